namespace Lume.FileService;

/// <summary>A file request that cannot be carried out, with the error type users meet by name (e.g. FilesystemNotConfigured).</summary>
public sealed class FileServiceException(string errorType, string message) : Exception(message)
{
    public string ErrorType { get; } = errorType;
}

namespace Lume.FileService.Filesystems;

/// <summary>The filesystems configured for this FileService, by identifier.</summary>
public sealed class FilesystemRegistry(IEnumerable<IFilesystem> filesystems)
{
    readonly Dictionary<string, IFilesystem> _byId = filesystems.ToDictionary(f => f.Identifier, StringComparer.Ordinal);

    /// <summary>The filesystem; an unknown identifier is FilesystemNotConfigured, listing the configured ones.</summary>
    public IFilesystem Get(string identifier) =>
        identifier is not null && _byId.TryGetValue(identifier, out var filesystem)
            ? filesystem
            : throw new FileServiceException("FilesystemNotConfigured",
                $"filesystem '{identifier}' is not configured; configured: {string.Join(", ", _byId.Keys.Order(StringComparer.Ordinal))}");
}

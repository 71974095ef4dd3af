namespace Lume.FileService.Filesystems;

/// <summary>A named place files are saved to and loaded from.</summary>
public interface IFilesystem
{
    /// <summary>The identifier flows use, e.g. <c>local</c>.</summary>
    string Identifier { get; }

    /// <summary>Writes the file atomically: readers see the old content or the new, never a part.</summary>
    Task WriteAsync(string path, Stream content, bool createDir, bool overwrite, CancellationToken cancellationToken);

    /// <summary>Opens the file for reading; large files are streamed, never held whole.</summary>
    Stream OpenRead(string path);

    Task<byte[]> ReadAsync(string path, CancellationToken cancellationToken);

    /// <summary>The entries of a folder, named by the paths flows use; temporary files of writes in progress are left out.</summary>
    IReadOnlyList<Lume.Contracts.FileEntry> List(string? path);
}

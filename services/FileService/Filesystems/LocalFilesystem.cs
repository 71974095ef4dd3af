namespace Lume.FileService.Filesystems;

/// <summary>
/// The <c>local</c> filesystem: a folder on this machine. Paths are relative to its root (an absolute path must
/// lie inside it); one that would lead out of the root, by <c>..</c> or otherwise, is refused.
/// </summary>
public sealed class LocalFilesystem(string identifier, string root) : IFilesystem
{
    readonly string _root = Path.GetFullPath(root);

    public string Identifier { get; } = identifier;

    public string Root => _root;

    /// <summary>The full path of <paramref name="path"/> under the root; throws PathNotInRoot for any path that leaves it.</summary>
    public string Resolve(string path)
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new FileServiceException("InvalidPath", $"filesystem '{Identifier}': the file name is empty");
        // Check the segments as given, before normalising, so "a/../../b" is refused even where it would land back inside.
        if (path.Replace('\\', '/').Split('/').Contains(".."))
            throw new FileServiceException("PathNotInRoot", $"filesystem '{Identifier}': path '{path}' contains '..'; paths must stay inside {_root}");
        var full = Path.GetFullPath(Path.IsPathRooted(path) ? path : Path.Combine(_root, path));
        var prefix = _root.EndsWith(Path.DirectorySeparatorChar) ? _root : _root + Path.DirectorySeparatorChar;
        if (!full.StartsWith(prefix, StringComparison.Ordinal))
            throw new FileServiceException("PathNotInRoot", $"filesystem '{Identifier}': path '{path}' is outside its root {_root}");
        return full;
    }

    public async Task WriteAsync(string path, ReadOnlyMemory<byte> content, bool createDir, bool overwrite, CancellationToken cancellationToken)
    {
        var full = Resolve(path);
        var directory = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(directory))
        {
            if (!createDir)
                throw new FileServiceException("DirectoryNotFound",
                    $"filesystem '{Identifier}': directory of '{path}' ({directory}) does not exist; pass create_dir to create it");
            Directory.CreateDirectory(directory);
        }

        if (!overwrite && File.Exists(full))
            throw new FileServiceException("FileExists", $"filesystem '{Identifier}': '{path}' exists and overwrite is off");

        // Write beside the target, then rename over it: a crash leaves a stray temporary file, never a half-written target.
        var temporary = Path.Combine(directory, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            await using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, FileOptions.Asynchronous))
            {
                await stream.WriteAsync(content, cancellationToken);
                await stream.FlushAsync(cancellationToken);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, full, overwrite);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    public async Task<byte[]> ReadAsync(string path, CancellationToken cancellationToken)
    {
        var full = Resolve(path);
        if (!File.Exists(full))
            throw new FileServiceException("FileNotFound", $"filesystem '{Identifier}': '{path}' does not exist ({full})");
        return await File.ReadAllBytesAsync(full, cancellationToken);
    }
}

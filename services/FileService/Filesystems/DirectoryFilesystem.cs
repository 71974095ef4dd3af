namespace Lume.FileService.Filesystems;

/// <summary>How a mounted filesystem's folder comes to exist (upstream's mount types).</summary>
public enum MountType
{
    /// <summary>The folder must exist when the FileService starts.</summary>
    Directory,

    /// <summary>The folder is created when the FileService starts, if missing.</summary>
    DirectoryOrCreate,
}

/// <summary>
/// A filesystem that is a folder on this machine. Without an alias it is <c>local</c>-style: paths are relative to its
/// root, and an absolute path must lie inside it (else PathNotInRoot). With an alias it is <c>mounted</c>-style, as
/// upstream: flows use paths under <c>mount_alias</c> (the path the folder has in their world, e.g. <c>/data</c>), and
/// the files live under <c>mount_path</c> on this host; a path outside the alias is PathNotInMount. Either way a path
/// that would lead out of the folder, by <c>..</c> or through a symbolic link, is refused and nothing is written.
/// </summary>
public sealed class DirectoryFilesystem : IFilesystem
{
    readonly string _root;
    readonly string? _alias;

    public DirectoryFilesystem(string identifier, string root, string? alias = null)
    {
        Identifier = identifier;
        _root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root));
        _alias = alias is null ? null : "/" + alias.Trim().Trim('/');
    }

    public string Identifier { get; }

    /// <summary>The folder on this host.</summary>
    public string Root => _root;

    /// <summary>The path flows use for the folder, or null for a local filesystem.</summary>
    public string? Alias => _alias;

    /// <summary>The full host path of <paramref name="path"/>; throws for any path that leaves the folder.</summary>
    public string Resolve(string path)
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new FileServiceException("InvalidPath", $"filesystem '{Identifier}': the file name is empty");
        // Check the segments as given, before normalising, so "a/../../b" is refused even where it would land back inside.
        if (path.Replace('\\', '/').Split('/').Contains(".."))
            throw Outside(path, "contains '..'");

        var relative = ToRelative(path);
        var full = Path.GetFullPath(Path.Combine(_root, relative));
        if (!IsInside(full, _root))
            throw Outside(path, "is outside");
        EnsureNoLinkLeadsOut(full, path);
        return full;
    }

    /// <summary>The path flows use for a host path under the folder: the alias path for a mounted filesystem.</summary>
    public string ToFlowPath(string hostPath)
    {
        var relative = Path.GetRelativePath(_root, hostPath).Replace('\\', '/');
        return _alias is null ? relative : $"{_alias.TrimEnd('/')}/{relative}";
    }

    string ToRelative(string path)
    {
        var normal = path.Replace('\\', '/');
        if (_alias is null)
            return Path.IsPathRooted(normal) ? Path.GetRelativePath(_root, Path.GetFullPath(normal)) : normal;
        if (!normal.StartsWith('/'))
            return normal;
        if (normal == _alias || normal.StartsWith(_alias.TrimEnd('/') + "/", StringComparison.Ordinal))
            return normal[_alias.TrimEnd('/').Length..].TrimStart('/');
        throw Outside(path, "is not under the mount alias");
    }

    // Every existing folder on the way, and the file itself, must resolve (links followed) to a place inside the root.
    void EnsureNoLinkLeadsOut(string full, string path)
    {
        var current = _root;
        foreach (var segment in Path.GetRelativePath(_root, full).Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            current = Path.Combine(current, segment);
            FileSystemInfo info = Directory.Exists(current) ? new DirectoryInfo(current) : new FileInfo(current);
            if (!info.Exists && info.LinkTarget is null)
                return;
            if (info.LinkTarget is not null)
            {
                var target = info.ResolveLinkTarget(returnFinalTarget: true);
                if (target is null || !IsInside(Path.GetFullPath(target.FullName), _root))
                    throw Outside(path, "leads through a symbolic link to outside");
            }
        }
    }

    static bool IsInside(string full, string root) =>
        full.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    FileServiceException Outside(string path, string why) => _alias is null
        ? new FileServiceException("PathNotInRoot", $"filesystem '{Identifier}': path '{path}' {why} its root {_root}")
        : new FileServiceException("PathNotInMount",
            $"filesystem '{Identifier}': path '{path}' {why} the mount (mount path {_root}, mount alias {_alias})");

    public async Task WriteAsync(string path, ReadOnlyMemory<byte> content, bool createDir, bool overwrite, CancellationToken cancellationToken)
    {
        await using var stream = new MemoryStream(content.ToArray(), writable: false);
        await WriteAsync(path, stream, createDir, overwrite, cancellationToken);
    }

    public async Task WriteAsync(string path, Stream content, bool createDir, bool overwrite, CancellationToken cancellationToken)
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

        // Without overwrite, an existing file that already holds exactly these bytes is a success: a save repeated (a
        // redelivered request, a retried attempt) must not fail because its own first delivery got there first.
        if (!overwrite && File.Exists(full) && content.CanSeek && new FileInfo(full).Length != content.Length - content.Position)
            throw Exists(path);

        // Write beside the target, then rename over it: a crash leaves a stray temporary file, never a half-written target.
        var temporary = Path.Combine(directory, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            await using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, FileOptions.Asynchronous))
            {
                await content.CopyToAsync(stream, cancellationToken);
                await stream.FlushAsync(cancellationToken);
                stream.Flush(flushToDisk: true);
            }

            try
            {
                File.Move(temporary, full, overwrite);
            }
            catch (IOException) when (!overwrite && File.Exists(full))
            {
                if (!await SameContentAsync(temporary, full, cancellationToken))
                    throw Exists(path);
                File.Delete(temporary);
            }
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    FileServiceException Exists(string path) =>
        new("FileExists", $"filesystem '{Identifier}': '{path}' exists with other content and overwrite is off");

    static async Task<bool> SameContentAsync(string a, string b, CancellationToken cancellationToken)
    {
        await using var left = new FileStream(a, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, FileOptions.Asynchronous | FileOptions.SequentialScan);
        await using var right = new FileStream(b, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, FileOptions.Asynchronous | FileOptions.SequentialScan);
        if (left.Length != right.Length)
            return false;
        var x = new byte[81920];
        var y = new byte[81920];
        while (true)
        {
            var n = await left.ReadAtLeastAsync(x, x.Length, throwOnEndOfStream: false, cancellationToken);
            var m = await right.ReadAtLeastAsync(y, n, throwOnEndOfStream: false, cancellationToken);
            if (n != m || !x.AsSpan(0, n).SequenceEqual(y.AsSpan(0, m)))
                return false;
            if (n < x.Length)
                return true;
        }
    }

    public IReadOnlyList<Lume.Contracts.FileEntry> List(string? path)
    {
        var folder = string.IsNullOrWhiteSpace(path) || path.Trim() == "/" || path.TrimEnd('/') == _alias ? _root : Resolve(path);
        if (!Directory.Exists(folder))
            throw new FileServiceException("DirectoryNotFound", $"filesystem '{Identifier}': '{path}' is not a folder");
        return new DirectoryInfo(folder).EnumerateFileSystemInfos()
            .Where(e => !(e.Name.StartsWith('.') && e.Name.EndsWith(".tmp", StringComparison.Ordinal)))
            .OrderBy(e => e.Name, StringComparer.Ordinal)
            .Select(e => new Lume.Contracts.FileEntry(ToFlowPath(e.FullName), e is DirectoryInfo, e is FileInfo f ? f.Length : null, e.LastWriteTimeUtc))
            .ToArray();
    }

    public async Task<byte[]> ReadAsync(string path, CancellationToken cancellationToken)
    {
        await using var stream = OpenRead(path);
        var content = new byte[stream.Length];
        await stream.ReadExactlyAsync(content, cancellationToken);
        return content;
    }

    public Stream OpenRead(string path)
    {
        var full = Resolve(path);
        if (!File.Exists(full))
            throw new FileServiceException("FileNotFound", $"filesystem '{Identifier}': '{path}' does not exist ({full})");
        return new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, FileOptions.Asynchronous | FileOptions.SequentialScan);
    }
}

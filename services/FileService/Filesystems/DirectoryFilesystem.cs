using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

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
    // Linux errno values, which .NET passes on as the HResult of some IOExceptions.
    const int IsADirectoryErrno = 21;
    const int ReadOnlyErrno = 30;

    // Linux limits: a name has at most 255 bytes, a whole path at most 4095.
    const int MaxNameBytes = 255;
    const int MaxPathBytes = 4095;

    static readonly System.Text.UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    readonly string _root;
    readonly string? _alias;
    readonly TimeProvider _time;
    readonly ILogger<DirectoryFilesystem> _logger;
    readonly ConcurrentDictionary<string, DateTimeOffset> _swept = new(StringComparer.Ordinal);

    public DirectoryFilesystem(string identifier, string root, string? alias = null, TimeProvider? time = null, ILogger<DirectoryFilesystem>? logger = null)
    {
        Identifier = identifier;
        _root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root));
        _alias = alias is null ? null : "/" + alias.Trim().Trim('/');
        _time = time ?? TimeProvider.System;
        _logger = logger ?? NullLogger<DirectoryFilesystem>.Instance;
    }

    public string Identifier { get; }

    /// <summary>The folder on this host.</summary>
    public string Root => _root;

    /// <summary>The path flows use for the folder, or null for a local filesystem.</summary>
    public string? Alias => _alias;

    /// <summary>The full host path of the file <paramref name="path"/>; throws a named error for any path that is not a file name inside the folder.</summary>
    public string Resolve(string path) => Guard(path, () => Resolve(path, file: true));

    /// <summary>The path flows use for a host path under the folder: the alias path for a mounted filesystem.</summary>
    public string ToFlowPath(string hostPath)
    {
        var relative = Path.GetRelativePath(_root, hostPath).Replace('\\', '/');
        return _alias is null ? relative : $"{_alias.TrimEnd('/')}/{relative}";
    }

    /// <summary>Deletes the temporary files in the folder that interrupted saves left behind.</summary>
    public void SweepTemporaryFiles(CancellationToken cancellationToken) => Sweep(_root, recursive: true, cancellationToken);

    // Everything that can be checked without touching the disk is checked first, so a refused path creates nothing.
    string Resolve(string path, bool file)
    {
        if (string.IsNullOrWhiteSpace(path))
            throw Error("InvalidPath", $"the {(file ? "file name" : "path")} is empty; give the path of a {(file ? "file" : "folder")}");
        foreach (var c in path)
            if (char.IsControl(c))
                throw Invalid(Visible(path), $"it contains the control character U+{(int)c:X4}; remove it");

        // Check the segments as given, before normalising, so "a/../../b" is refused even where it would land back inside.
        var segments = path.Replace('\\', '/').Split('/');
        if (segments.Contains(".."))
            throw Outside(path, "is refused: '..' may not appear in a path");
        if (file && segments[^1] is "" or ".")
            throw Invalid(path, $"it ends in '{(segments[^1] == "" ? "/" : ".")}', so it names a folder, not a file; end it with the file's name");
        foreach (var segment in segments)
        {
            int bytes;
            try
            {
                bytes = Utf8.GetByteCount(segment);
            }
            catch (ArgumentException)
            {
                throw Invalid(path, "it contains a broken Unicode character (a lone surrogate); remove it");
            }

            if (bytes > MaxNameBytes)
                throw Invalid(path, $"name too long: a file or folder name may have at most {MaxNameBytes} bytes (UTF-8), and '{segment}' has {bytes}; shorten it");
            if (TemporaryFiles.IsTemporary(segment))
                throw Invalid(path, $"'{segment}' has the form of Lume's temporary files (.lume-….tmp, .name.….tmp), which is reserved; choose another name");
        }

        var full = Path.GetFullPath(Path.Combine(_root, ToRelative(path)));
        if (full == _root && file)
            throw Invalid(path, "it names the filesystem's top folder, not a file; add the file's name");
        if (full != _root && !IsInside(full, _root))
            throw Outside(path, _alias is null ? "is outside the filesystem's root" : $"is outside the mount alias {_alias}");
        if (TooLong(full))
            throw Invalid(path, $"path too long: on the host it would have more than {MaxPathBytes} bytes; use a shorter path");
        if (full != _root)
            CheckTheWay(full, path);
        return full;
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
        throw Outside(path, $"is outside the mount alias {_alias}");
    }

    // Every existing folder on the way, and the file itself, must resolve (links followed) to a place inside the root,
    // and every step before the last must be a folder.
    void CheckTheWay(string full, string path)
    {
        var current = _root;
        var segments = Path.GetRelativePath(_root, full).Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries);
        for (var i = 0; i < segments.Length; i++)
        {
            current = Path.Combine(current, segments[i]);
            FileSystemInfo info = Directory.Exists(current) ? new DirectoryInfo(current) : new FileInfo(current);
            if (!info.Exists && info.LinkTarget is null)
                return;
            if (info.LinkTarget is not null)
            {
                FileSystemInfo? target;
                try
                {
                    target = info.ResolveLinkTarget(returnFinalTarget: true);
                }
                catch (IOException)
                {
                    throw Invalid(path, $"'{ToFlowPath(current)}' is a symbolic link that cannot be followed (it loops); remove or fix the link");
                }

                if (target is null || !IsInside(Path.GetFullPath(target.FullName), _root))
                    throw Outside(path, $"is refused: '{ToFlowPath(current)}' is a symbolic link that leads outside");
            }

            if (info is FileInfo { Exists: true } && i < segments.Length - 1)
                throw Error("NotADirectory", $"'{path}' goes through '{ToFlowPath(current)}', which is a file, not a folder; choose another path");
        }
    }

    static bool IsInside(string full, string root) =>
        full.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    static bool TooLong(string hostPath) => Utf8.GetByteCount(hostPath) > MaxPathBytes;

    FileServiceException Error(string errorType, string message) => new(errorType, $"filesystem '{Identifier}': {message}");

    FileServiceException Invalid(string path, string why) => Error("InvalidPath", $"path '{path}' is refused: {why}");

    FileServiceException Outside(string path, string why) => _alias is null
        ? Error("PathNotInRoot", $"path '{path}' {why}; give a path inside the filesystem's root {_root}")
        : Error("PathNotInMount", $"path '{path}' {why}; give a path under {_alias} (files there live in the host folder {_root})");

    // Control characters are shown as escapes, so the message itself stays printable.
    static string Visible(string path) =>
        string.Concat(path.Select(c => char.IsControl(c) ? $"\\u{(int)c:X4}" : c.ToString()));

    // The host's own refusals of a user's path become named errors; anything else is a bug, and still faults.
    T Guard<T>(string path, Func<T> operation)
    {
        try
        {
            return operation();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException and not ArgumentNullException)
        {
            throw Refused(e, path);
        }
    }

    async Task GuardAsync(string path, Func<Task> operation)
    {
        try
        {
            await operation();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException and not ArgumentNullException)
        {
            throw Refused(e, path);
        }
    }

    FileServiceException Refused(Exception e, string path) => e switch
    {
        UnauthorizedAccessException or IOException { HResult: ReadOnlyErrno } => Error("AccessDenied",
            $"access to '{path}' is denied on the host; choose another path, or ask for the permissions of the folder {_root} to be fixed"),
        PathTooLongException => Invalid(path, "name too long for the host; shorten it"),
        FileNotFoundException => Error("FileNotFound", $"file '{path}' does not exist (it may have been removed meanwhile)"),
        DirectoryNotFoundException => Error("DirectoryNotFound", $"a folder on the way to '{path}' does not exist (it may have been removed meanwhile)"),
        IOException { HResult: IsADirectoryErrno } => IsAFolder(path),
        ArgumentException => Invalid(path, $"the host refuses it ({e.Message}); choose another name"),
        _ => Error("IOError", $"'{path}' failed on the host: {e.Message}; try again, or ask for the host's storage to be checked"),
    };

    FileServiceException IsAFolder(string path) =>
        Error("IsADirectory", $"'{path}' is a folder, not a file; give the path of a file (list the folder to see what it holds)");

    public async Task WriteAsync(string path, ReadOnlyMemory<byte> content, bool createDir, bool overwrite, CancellationToken cancellationToken)
    {
        await using var stream = new MemoryStream(content.ToArray(), writable: false);
        await WriteAsync(path, stream, createDir, overwrite, cancellationToken);
    }

    public Task WriteAsync(string path, Stream content, bool createDir, bool overwrite, CancellationToken cancellationToken) => GuardAsync(path, async () =>
    {
        var full = Resolve(path, file: true);
        if (Directory.Exists(full))
            throw IsAFolder(path);
        var directory = Path.GetDirectoryName(full)!;
        var temporary = Path.Combine(directory, TemporaryFiles.NewName());
        if (TooLong(temporary))
            throw Invalid(path, $"path too long: its folder on the host has too many bytes to hold a file ({MaxPathBytes} at most); use a shorter path");
        var missing = MissingFolders(directory, path);
        if (missing.Count > 0 && !createDir)
            throw Error("DirectoryNotFound", $"cannot save '{path}': the folder '{ToFlowPath(missing[0])}' does not exist; pass create_dir to create it");

        // Without overwrite, an existing file that already holds exactly these bytes is a success: a save repeated (a
        // redelivered request, a retried attempt) must not fail because its own first delivery got there first.
        if (!overwrite && File.Exists(full) && content.CanSeek && new FileInfo(full).Length != content.Length - content.Position)
            throw Exists(path);

        // Write beside the target, then rename over it: a crash leaves a stray temporary file, never a half-written target.
        var created = new List<string>();
        try
        {
            foreach (var folder in missing)
            {
                Directory.CreateDirectory(folder);
                created.Add(folder);
            }

            if (created.Count == 0)
                SweepNow(directory);
            await WriteTemporaryAsync(temporary, content, cancellationToken);
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
            Undo(temporary, created);
            throw;
        }
    });

    // The folders a save must create, outermost first. A vanished root is not recreated: it is a mount gone missing.
    List<string> MissingFolders(string directory, string path)
    {
        var missing = new List<string>();
        for (var folder = directory; !Directory.Exists(folder); folder = Path.GetDirectoryName(folder)!)
        {
            if (folder == _root)
                throw Error("DirectoryNotFound", $"cannot save '{path}': the filesystem's folder {_root} does not exist on the host; ask for it to be restored");
            missing.Insert(0, folder);
        }

        return missing;
    }

    async Task WriteTemporaryAsync(string temporary, Stream content, CancellationToken cancellationToken)
    {
        await using var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, FileOptions.Asynchronous);
        // A save that outlasts the sweep's age (a slow source) keeps its file fresh, so no sweep takes it mid-write.
        using var keepFresh = _time.CreateTimer(_ => Touch(temporary), null, TemporaryFiles.TouchEvery, TemporaryFiles.TouchEvery);
        await content.CopyToAsync(stream, cancellationToken);
        await stream.FlushAsync(cancellationToken);
        stream.Flush(flushToDisk: true);
    }

    void Touch(string temporary)
    {
        try
        {
            File.SetLastWriteTimeUtc(temporary, _time.GetUtcNow().UtcDateTime);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    // A failed save takes back what it made, deepest first; a folder something else has filled meanwhile stays.
    static void Undo(string temporary, List<string> created)
    {
        try
        {
            File.Delete(temporary);
            for (var i = created.Count - 1; i >= 0; i--)
                Directory.Delete(created[i]);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    // A save looks at its own folder only, and at most once per sweep age, so saving many files into one folder stays cheap.
    void SweepNow(string folder)
    {
        var now = _time.GetUtcNow();
        if (_swept.TryGetValue(folder, out var last) && now - last < TemporaryFiles.StaleAfter)
            return;
        _swept[folder] = now;
        Sweep(folder, recursive: false, CancellationToken.None);
    }

    void Sweep(string folder, bool recursive, CancellationToken cancellationToken)
    {
        foreach (var removed in TemporaryFiles.Sweep(folder, recursive, _time.GetUtcNow(), cancellationToken))
            _logger.LogInformation("Removed the stale temporary file {Path} of an interrupted save on {Filesystem}", ToFlowPath(removed), Identifier);
    }

    FileServiceException Exists(string path) =>
        Error("FileExists", $"'{path}' already exists with other content; pass overwrite to replace it, or choose another name");

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

    public IReadOnlyList<Lume.Contracts.FileEntry> List(string? path) => Guard(path ?? "", () =>
    {
        var folder = string.IsNullOrWhiteSpace(path) || path.Trim() == "/" || path.TrimEnd('/') == _alias ? _root : Resolve(path, file: false);
        if (File.Exists(folder))
            throw Error("NotADirectory", $"'{path}' is a file, not a folder; list the folder that holds it");
        if (!Directory.Exists(folder))
            throw Error("DirectoryNotFound", $"folder '{path}' does not exist; check the path, or list its parent to see what it holds");
        return new DirectoryInfo(folder).EnumerateFileSystemInfos()
            .Where(e => !TemporaryFiles.IsTemporary(e.Name))
            .OrderBy(e => e.Name, StringComparer.Ordinal)
            .Select(e => new Lume.Contracts.FileEntry(ToFlowPath(e.FullName), e is DirectoryInfo, e is FileInfo f ? f.Length : null, e.LastWriteTimeUtc))
            .ToArray();
    });

    public async Task<byte[]> ReadAsync(string path, CancellationToken cancellationToken)
    {
        await using var stream = OpenRead(path);
        var content = new byte[stream.Length];
        await GuardAsync(path, () => stream.ReadExactlyAsync(content, cancellationToken).AsTask());
        return content;
    }

    public Stream OpenRead(string path) => Guard(path, () =>
    {
        var full = Resolve(path, file: true);
        if (Directory.Exists(full))
            throw IsAFolder(path);
        if (!File.Exists(full))
            throw Error("FileNotFound", $"file '{path}' does not exist; check the name, or list its folder to see what it holds");
        return new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, FileOptions.Asynchronous | FileOptions.SequentialScan);
    });
}

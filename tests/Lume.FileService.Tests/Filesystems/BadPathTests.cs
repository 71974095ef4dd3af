using System.Runtime.Versioning;
using System.Security.Cryptography;
using System.Text;
using Lume.FileService.Filesystems;

namespace Lume.FileService.Tests.Filesystems;

/// <summary>Each bad name is a named error that names the path, and the folder tree is left exactly as it was.</summary>
public sealed class BadPathTests : IDisposable
{
    const string Hex = "0123456789abcdef0123456789abcdef";

    readonly string _top = Directory.CreateTempSubdirectory("lume-tests-").FullName;
    readonly string _root;
    readonly DirectoryFilesystem _local;

    public BadPathTests()
    {
        _root = Directory.CreateDirectory(Path.Combine(_top, "root")).FullName;
        Directory.CreateDirectory(Path.Combine(_root, "dirA"));
        Directory.CreateDirectory(Path.Combine(_root, "sub"));
        File.WriteAllText(Path.Combine(_root, "file.txt"), "original");
        File.WriteAllText(Path.Combine(_root, "sub", "inner.txt"), "inner");
        _local = new DirectoryFilesystem("local", _root);
    }

    public void Dispose() => Directory.Delete(_top, recursive: true);

    // Names, and the bytes of every file: a failed request must leave no file, temporary file or folder behind.
    string[] Tree() => Directory.GetFileSystemEntries(_top, "*", SearchOption.AllDirectories)
        .Order(StringComparer.Ordinal)
        .Select(p => File.Exists(p) ? $"{p} {Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(p)))}" : $"{p}/")
        .ToArray();

    static Task Save(DirectoryFilesystem filesystem, string path, bool createDir = true) =>
        filesystem.WriteAsync(path, Encoding.UTF8.GetBytes("new content"), createDir, overwrite: true, CancellationToken.None);

    [Theory]
    [InlineData("a\0b.txt", "InvalidPath", "path 'a\\u0000b.txt' is refused: it contains the control character U+0000")]
    [InlineData("new/a\u0001b.txt", "InvalidPath", "path 'new/a\\u0001b.txt' is refused: it contains the control character U+0001")]
    [InlineData("tab\there.txt", "InvalidPath", "U+0009")]
    [InlineData("dirA/", "InvalidPath", "path 'dirA/' is refused: it ends in '/', so it names a folder, not a file")]
    [InlineData("new/deeper/", "InvalidPath", "path 'new/deeper/' is refused: it ends in '/'")]
    [InlineData("new/.", "InvalidPath", "path 'new/.' is refused: it ends in '.'")]
    [InlineData(".", "InvalidPath", "path '.' is refused")]
    [InlineData("dirA", "IsADirectory", "'dirA' is a folder, not a file")]
    [InlineData("sub", "IsADirectory", "'sub' is a folder, not a file")]
    [InlineData(".lume-" + Hex + ".tmp", "InvalidPath", "which is reserved")]
    [InlineData("new/.report.txt." + Hex + ".tmp", "InvalidPath", "'.report.txt." + Hex + ".tmp' has the form of Lume's temporary files")]
    [InlineData(".lume-" + Hex + ".tmp/x.txt", "InvalidPath", "which is reserved")]
    [InlineData("file.txt/x.txt", "NotADirectory", "'file.txt/x.txt' goes through 'file.txt', which is a file, not a folder")]
    [InlineData("sub/inner.txt/deeper/x.txt", "NotADirectory", "goes through 'sub/inner.txt'")]
    [InlineData("../x.txt", "PathNotInRoot", "path '../x.txt' is refused: '..' may not appear in a path")]
    public async Task Save_OfABadName_IsANamedError_AndLeavesTheTreeUnchanged(string path, string errorType, string fragment)
    {
        var before = Tree();

        var error = await Assert.ThrowsAsync<FileServiceException>(() => Save(_local, path));

        Assert.Equal(errorType, error.ErrorType);
        Assert.Contains(fragment, error.Message, StringComparison.Ordinal);
        Assert.StartsWith("filesystem 'local': ", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, Tree());
    }

    [Theory]
    [InlineData(256, "")]
    [InlineData(256, "new/")]
    [InlineData(300, "new/deeper/")]
    public async Task Save_OfANameOverTheHostsLimit_IsInvalidPath_NameTooLong(int length, string folder)
    {
        var path = folder + new string('n', length) + "/x.txt";
        var before = Tree();

        var error = await Assert.ThrowsAsync<FileServiceException>(() => Save(_local, path));

        Assert.Equal("InvalidPath", error.ErrorType);
        Assert.Contains($"path '{path}' is refused: name too long", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, Tree());
    }

    [Fact]
    public async Task Save_OfANameOver255Bytes_InUtf8_IsInvalidPath_EvenUnder255Characters()
    {
        var path = string.Concat(Enumerable.Repeat("é", 128));
        var before = Tree();

        var error = await Assert.ThrowsAsync<FileServiceException>(() => Save(_local, path));

        Assert.Equal("InvalidPath", error.ErrorType);
        Assert.Contains("has 256", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, Tree());
    }

    [Fact]
    public async Task Save_OfAPathOverTheHostsPathLimit_IsInvalidPath_BeforeAnyFolderIsCreated()
    {
        var path = string.Concat(Enumerable.Repeat("folder/", 600)) + "x.txt";
        var before = Tree();

        var error = await Assert.ThrowsAsync<FileServiceException>(() => Save(_local, path));

        Assert.Equal("InvalidPath", error.ErrorType);
        Assert.Contains("path too long", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, Tree());
    }

    [Fact]
    public async Task Save_WithALoneSurrogate_IsInvalidPath()
    {
        var path = "new/bad\ud800.txt";
        var before = Tree();

        var error = await Assert.ThrowsAsync<FileServiceException>(() => Save(_local, path));

        Assert.Equal("InvalidPath", error.ErrorType);
        Assert.Contains("lone surrogate", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, Tree());
    }

    [Fact]
    public async Task Save_IntoAMissingFolder_WithoutCreateDir_NamesTheFolder_AndCreatesNothing()
    {
        var before = Tree();

        var error = await Assert.ThrowsAsync<FileServiceException>(() => Save(_local, "new/deeper/x.txt", createDir: false));

        Assert.Equal("DirectoryNotFound", error.ErrorType);
        Assert.Equal("filesystem 'local': cannot save 'new/deeper/x.txt': the folder 'new' does not exist; pass create_dir to create it", error.Message);
        Assert.Equal(before, Tree());
    }

    [Fact]
    public async Task Save_ThatIsCancelled_RemovesItsTemporaryFile_AndTheFoldersItCreated()
    {
        var before = Tree();
        using var cancel = new CancellationTokenSource();
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            _local.WriteAsync("new/deeper/x.txt", Encoding.UTF8.GetBytes("x"), createDir: true, overwrite: true, cancel.Token));

        Assert.Equal(before, Tree());
    }

    [Fact]
    public async Task Save_WhoseSourceFailsMidWrite_RemovesItsTemporaryFile_AndOnlyTheFoldersItCreated()
    {
        var before = Tree();

        await Assert.ThrowsAsync<InvalidOperationException>(() =>
            _local.WriteAsync("sub/new/deeper/x.txt", new FailingStream(), createDir: true, overwrite: true, CancellationToken.None));

        Assert.Equal(before, Tree());
        Assert.True(Directory.Exists(Path.Combine(_root, "sub")));
    }

    [Fact]
    public async Task Save_ThatFindsOtherContent_WithoutOverwrite_LeavesNoTemporaryFile()
    {
        var before = Tree();
        await using var unseekable = new FailingStream(failAfter: false);

        var error = await Assert.ThrowsAsync<FileServiceException>(() =>
            _local.WriteAsync("file.txt", unseekable, createDir: true, overwrite: false, CancellationToken.None));

        Assert.Equal("FileExists", error.ErrorType);
        Assert.Equal("filesystem 'local': 'file.txt' already exists with other content; pass overwrite to replace it, or choose another name", error.Message);
        Assert.Equal(before, Tree());
    }

    [Theory]
    [InlineData("dirA", "IsADirectory", "'dirA' is a folder, not a file")]
    [InlineData("dirA/", "InvalidPath", "it ends in '/'")]
    [InlineData("file.txt/x", "NotADirectory", "which is a file, not a folder")]
    [InlineData("a\0b", "InvalidPath", "'a\\u0000b'")]
    [InlineData("absent.txt", "FileNotFound", "file 'absent.txt' does not exist")]
    [InlineData(".lume-" + Hex + ".tmp", "InvalidPath", "which is reserved")]
    [InlineData(".file.txt." + Hex + ".tmp", "InvalidPath", "which is reserved")]
    public async Task Load_OfABadName_IsANamedError(string path, string errorType, string fragment)
    {
        File.WriteAllText(Path.Combine(_root, ".lume-" + Hex + ".tmp"), "half");
        File.WriteAllText(Path.Combine(_root, ".file.txt." + Hex + ".tmp"), "half");

        var read = await Assert.ThrowsAsync<FileServiceException>(() => _local.ReadAsync(path, CancellationToken.None));
        var opened = Assert.Throws<FileServiceException>(() => _local.OpenRead(path));

        Assert.Equal(errorType, read.ErrorType);
        Assert.Contains(fragment, read.Message, StringComparison.Ordinal);
        Assert.Equal(read.Message, opened.Message);
    }

    [Theory]
    [InlineData("file.txt", "NotADirectory", "filesystem 'local': 'file.txt' is a file, not a folder; list the folder that holds it")]
    [InlineData("sub/inner.txt", "NotADirectory", "'sub/inner.txt' is a file, not a folder")]
    [InlineData("missing", "DirectoryNotFound", "folder 'missing' does not exist")]
    [InlineData("file.txt/x", "NotADirectory", "goes through 'file.txt'")]
    [InlineData("a\0b", "InvalidPath", "'a\\u0000b'")]
    [InlineData("../", "PathNotInRoot", "'..' may not appear in a path")]
    public void List_OfABadPath_IsANamedError(string path, string errorType, string fragment)
    {
        var error = Assert.Throws<FileServiceException>(() => _local.List(path));

        Assert.Equal(errorType, error.ErrorType);
        Assert.Contains(fragment, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Save_OfA255CharacterName_Succeeds_AndLoadsAndListsBack()
    {
        var name = new string('n', 255);

        await Save(_local, "sub/" + name);

        Assert.Equal("new content", Encoding.UTF8.GetString(await _local.ReadAsync("sub/" + name, CancellationToken.None)));
        Assert.Contains(_local.List("sub"), e => e.Path == "sub/" + name);
        Assert.Equal(["inner.txt", name], Directory.GetFileSystemEntries(Path.Combine(_root, "sub")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Messages_OfPathsOutsideTheRoot_SayWhatToDo()
    {
        var dotted = await Assert.ThrowsAsync<FileServiceException>(() => Save(_local, "../x"));
        var absolute = await Assert.ThrowsAsync<FileServiceException>(() => Save(_local, "/elsewhere/x"));

        Assert.Equal($"filesystem 'local': path '../x' is refused: '..' may not appear in a path; give a path inside the filesystem's root {_root}", dotted.Message);
        Assert.Equal($"filesystem 'local': path '/elsewhere/x' is outside the filesystem's root; give a path inside the filesystem's root {_root}", absolute.Message);
    }

    [SkippableFact]
    [UnsupportedOSPlatform("windows")]
    public async Task Save_IntoAFolderThisProcessMayNotWrite_IsAccessDenied_NamingThePath()
    {
        var locked = Path.Combine(_root, "locked");
        Directory.CreateDirectory(locked);
        File.SetUnixFileMode(locked, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        try
        {
            Skip.If(CanWrite(locked), "this process may write anywhere (it runs as root)");
            var before = Tree();

            var error = await Assert.ThrowsAsync<FileServiceException>(() => Save(_local, "locked/new/x.txt"));

            Assert.Equal("AccessDenied", error.ErrorType);
            Assert.Contains("access to 'locked/new/x.txt' is denied", error.Message, StringComparison.Ordinal);
            Assert.Equal(before, Tree());
        }
        finally
        {
            File.SetUnixFileMode(locked, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    static bool CanWrite(string folder)
    {
        var probe = Path.Combine(folder, "probe");
        try
        {
            using (File.Create(probe))
            {
            }

            File.Delete(probe);
            return true;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>A source that gives some bytes, then fails (or, with failAfter off, simply ends); it cannot seek.</summary>
    sealed class FailingStream(bool failAfter = true) : Stream
    {
        bool _gave;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_gave)
                return failAfter ? throw new InvalidOperationException("the source broke") : 0;
            _gave = true;
            buffer[offset] = (byte)'!';
            return 1;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

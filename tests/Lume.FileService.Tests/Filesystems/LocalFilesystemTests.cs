using System.Text;
using Lume.FileService.Filesystems;

namespace Lume.FileService.Tests.Filesystems;

public sealed class DirectoryFilesystemTests : IDisposable
{
    readonly string _top = Path.Combine(Path.GetTempPath(), "lume-tests", Guid.NewGuid().ToString("N"));
    readonly string _root;
    readonly DirectoryFilesystem _local;

    public DirectoryFilesystemTests()
    {
        _root = Path.Combine(_top, "root");
        Directory.CreateDirectory(_root);
        _local = new DirectoryFilesystem("local", _root);
    }

    public void Dispose() => Directory.Delete(_top, recursive: true);

    string[] Everything() => Directory.GetFileSystemEntries(_top, "*", SearchOption.AllDirectories).Order().ToArray();

    static ReadOnlyMemory<byte> Bytes(string text) => Encoding.UTF8.GetBytes(text);

    [Theory]
    [InlineData("../outside.txt")]
    [InlineData("a/../../outside.txt")]
    [InlineData("sub/../inside-but-dotted.txt")]
    [InlineData("/etc/lume-outside.txt")]
    public async Task Write_OfAPathLeavingTheRoot_IsRefused_AndTouchesNothing(string path)
    {
        var before = Everything();

        var error = await Assert.ThrowsAsync<FileServiceException>(() => _local.WriteAsync(path, Bytes("x"), createDir: true, overwrite: true, CancellationToken.None));

        Assert.Equal("PathNotInRoot", error.ErrorType);
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Equal(before, Everything());
        Assert.False(File.Exists("/etc/lume-outside.txt"));
    }

    [Fact]
    public async Task Write_ThenRead_RoundTripsUnderTheRoot_LeavingNoTemporaryFile()
    {
        await _local.WriteAsync("hello.txt", Bytes("HelloWorld"), createDir: false, overwrite: true, CancellationToken.None);

        Assert.Equal("HelloWorld", await File.ReadAllTextAsync(Path.Combine(_root, "hello.txt")));
        Assert.Equal("HelloWorld", Encoding.UTF8.GetString(await _local.ReadAsync("hello.txt", CancellationToken.None)));
        Assert.Equal([Path.Combine(_root, "hello.txt")], Directory.GetFiles(_root));
    }

    [Fact]
    public async Task Write_OfAnAbsolutePathInsideTheRoot_IsAccepted()
    {
        var inside = Path.Combine(_root, "abs.txt");

        await _local.WriteAsync(inside, Bytes("ok"), createDir: false, overwrite: true, CancellationToken.None);

        Assert.Equal("ok", await File.ReadAllTextAsync(inside));
    }

    [Fact]
    public async Task Write_IntoAMissingDirectory_NeedsCreateDir()
    {
        var error = await Assert.ThrowsAsync<FileServiceException>(() =>
            _local.WriteAsync("new/dir/file.txt", Bytes("x"), createDir: false, overwrite: true, CancellationToken.None));
        Assert.Equal("DirectoryNotFound", error.ErrorType);
        Assert.Contains("create_dir", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_root, "new")));

        await _local.WriteAsync("new/dir/file.txt", Bytes("x"), createDir: true, overwrite: true, CancellationToken.None);
        Assert.True(File.Exists(Path.Combine(_root, "new", "dir", "file.txt")));
    }

    [Fact]
    public async Task Write_OverAnExistingFile_WithoutOverwrite_IsRefused_AndKeepsTheContent()
    {
        await _local.WriteAsync("keep.txt", Bytes("first"), createDir: false, overwrite: true, CancellationToken.None);

        var error = await Assert.ThrowsAsync<FileServiceException>(() =>
            _local.WriteAsync("keep.txt", Bytes("second"), createDir: false, overwrite: false, CancellationToken.None));

        Assert.Equal("FileExists", error.ErrorType);
        Assert.Equal("first", await File.ReadAllTextAsync(Path.Combine(_root, "keep.txt")));
    }

    [Fact]
    public async Task Write_OfTheSameBytesAgain_WithoutOverwrite_Succeeds_SoARepeatedSaveIsHarmless()
    {
        await _local.WriteAsync("same.txt", Bytes("content"), createDir: false, overwrite: false, CancellationToken.None);

        await _local.WriteAsync("same.txt", Bytes("content"), createDir: false, overwrite: false, CancellationToken.None);
        await using var unseekable = new System.IO.Compression.GZipStream(
            new MemoryStream(Compress("content")), System.IO.Compression.CompressionMode.Decompress);
        await _local.WriteAsync("same.txt", unseekable, createDir: false, overwrite: false, CancellationToken.None);
        var other = await Assert.ThrowsAsync<FileServiceException>(() =>
            _local.WriteAsync("same.txt", Bytes("contenT"), createDir: false, overwrite: false, CancellationToken.None));

        Assert.Equal("FileExists", other.ErrorType);
        Assert.Equal("content", await File.ReadAllTextAsync(Path.Combine(_root, "same.txt")));
        Assert.Equal(["same.txt"], Directory.GetFiles(_root).Select(f => Path.GetFileName(f)!).ToArray()); // no temporary file left
    }

    static byte[] Compress(string text)
    {
        using var buffer = new MemoryStream();
        using (var zip = new System.IO.Compression.GZipStream(buffer, System.IO.Compression.CompressionLevel.Fastest))
            zip.Write(System.Text.Encoding.UTF8.GetBytes(text));
        return buffer.ToArray();
    }

    [Fact]
    public async Task Read_OfAMissingFile_SaysWhich()
    {
        var error = await Assert.ThrowsAsync<FileServiceException>(() => _local.ReadAsync("absent.txt", CancellationToken.None));

        Assert.Equal("FileNotFound", error.ErrorType);
        Assert.Contains("absent.txt", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("  ")]
    public void Resolve_OfAnEmptyName_IsRefused(string path) =>
        Assert.Equal("InvalidPath", Assert.Throws<FileServiceException>(() => _local.Resolve(path)).ErrorType);
}

using System.Text;
using System.Text.Json;
using Lume.Contracts;
using Lume.FileService.Filesystems;
using Lume.Hosting;
using Lume.Testing;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace Lume.FileService.Tests.Filesystems;

public sealed class MountedFilesystemTests : IDisposable
{
    readonly string _top = Directory.CreateTempSubdirectory("lume-tests-").FullName;

    public void Dispose() => Directory.Delete(_top, recursive: true);

    string MountPath => Directory.CreateDirectory(Path.Combine(_top, "host", "data")).FullName;

    [Fact]
    public void AliasPaths_MapToTheMountPath_AndBack()
    {
        var mounted = new DirectoryFilesystem("mounted", MountPath, "/data");

        var host = mounted.Resolve("/data/sub/x.txt");

        Assert.Equal(Path.Combine(MountPath, "sub", "x.txt"), host);
        Assert.Equal(Path.Combine(MountPath, "y.txt"), mounted.Resolve("y.txt"));
        Assert.Equal("/data/sub/x.txt", mounted.ToFlowPath(host));
    }

    [Theory]
    [InlineData("/other/x.txt")]
    [InlineData("/database/x.txt")]
    [InlineData("/data/../etc/x.txt")]
    public async Task APathOutsideTheMount_IsRefusedNamingPathMountPathAndAlias_AndNothingIsWritten(string path)
    {
        var mounted = new DirectoryFilesystem("mounted", MountPath, "/data");

        var error = await Assert.ThrowsAsync<FileServiceException>(() =>
            mounted.WriteAsync(path, Encoding.UTF8.GetBytes("x"), createDir: true, overwrite: true, CancellationToken.None));

        Assert.Equal("PathNotInMount", error.ErrorType);
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Contains(MountPath, error.Message, StringComparison.Ordinal);
        Assert.Contains("/data", error.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(MountPath));
    }

    [Fact]
    public async Task Messages_OfPathsOutsideTheMount_SayWhatToDo()
    {
        var mounted = new DirectoryFilesystem("mounted", MountPath, "/data");
        Directory.CreateSymbolicLink(Path.Combine(MountPath, "escape"), _top);

        var outside = await Assert.ThrowsAsync<FileServiceException>(() => mounted.ReadAsync("/other/x", CancellationToken.None));
        var dotted = await Assert.ThrowsAsync<FileServiceException>(() => mounted.ReadAsync("/data/../x", CancellationToken.None));
        var linked = await Assert.ThrowsAsync<FileServiceException>(() => mounted.ReadAsync("/data/escape/x", CancellationToken.None));

        var remedy = $"give a path under /data (files there live in the host folder {MountPath})";
        Assert.Equal($"filesystem 'mounted': path '/other/x' is outside the mount alias /data; {remedy}", outside.Message);
        Assert.Equal($"filesystem 'mounted': path '/data/../x' is refused: '..' may not appear in a path; {remedy}", dotted.Message);
        Assert.Equal($"filesystem 'mounted': path '/data/escape/x' is refused: '/data/escape' is a symbolic link that leads outside; {remedy}", linked.Message);
    }

    [Fact]
    public async Task TheAliasItself_IsAFolder_ListedButNotSavedTo()
    {
        var mounted = new DirectoryFilesystem("mounted", MountPath, "/data");

        var error = await Assert.ThrowsAsync<FileServiceException>(() =>
            mounted.WriteAsync("/data", Encoding.UTF8.GetBytes("x"), createDir: true, overwrite: true, CancellationToken.None));

        Assert.Equal("InvalidPath", error.ErrorType);
        Assert.Contains("path '/data' is refused: it names the filesystem's top folder", error.Message, StringComparison.Ordinal);
        Assert.Empty(mounted.List("/data"));
        Assert.Empty(Directory.GetFileSystemEntries(MountPath));
    }

    [Theory]
    [InlineData(null, "PathNotInRoot")]
    [InlineData("/data", "PathNotInMount")]
    public async Task ASymbolicLinkLeadingOut_IsRefused_AndNothingIsWrittenOutside(string? alias, string errorType)
    {
        var outside = Directory.CreateDirectory(Path.Combine(_top, "outside")).FullName;
        Directory.CreateSymbolicLink(Path.Combine(MountPath, "escape"), outside);
        File.CreateSymbolicLink(Path.Combine(MountPath, "passwd"), Path.Combine(outside, "target.txt"));
        var filesystem = new DirectoryFilesystem("fs", MountPath, alias);
        var prefix = alias is null ? "" : alias + "/";

        var throughFolder = await Assert.ThrowsAsync<FileServiceException>(() =>
            filesystem.WriteAsync(prefix + "escape/x.txt", Encoding.UTF8.GetBytes("x"), createDir: true, overwrite: true, CancellationToken.None));
        var throughFile = await Assert.ThrowsAsync<FileServiceException>(() =>
            filesystem.WriteAsync(prefix + "passwd", Encoding.UTF8.GetBytes("x"), createDir: true, overwrite: true, CancellationToken.None));

        Assert.Equal(errorType, throughFolder.ErrorType);
        Assert.Contains("symbolic link", throughFile.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(outside));
    }

    [Fact]
    public async Task ASymbolicLinkThatStaysInside_IsFollowed()
    {
        Directory.CreateDirectory(Path.Combine(MountPath, "real"));
        Directory.CreateSymbolicLink(Path.Combine(MountPath, "alias"), Path.Combine(MountPath, "real"));
        var filesystem = new DirectoryFilesystem("fs", MountPath);

        await filesystem.WriteAsync("alias/x.txt", Encoding.UTF8.GetBytes("ok"), createDir: false, overwrite: true, CancellationToken.None);

        Assert.Equal("ok", await File.ReadAllTextAsync(Path.Combine(MountPath, "real", "x.txt")));
    }

    [Fact]
    public async Task AFlowSavingToMounted_WritesUnderTheHostPath_AndItsRepCarriesTheAlias()
    {
        await using var host = await LumeTestHost.StartAsync(builder => builder.AddLumeFileService(), new Dictionary<string, string?>
        {
            ["MOUNTED_FILESYSTEM:IDENTIFIER"] = "mounted",
            ["MOUNTED_FILESYSTEM:MOUNT_PATH"] = MountPath,
            ["MOUNTED_FILESYSTEM:MOUNT_ALIAS"] = "/data",
            ["MOUNTED_FILESYSTEM:MOUNT_TYPE"] = "Directory",
            ["FILESYSTEMS:scratch:MOUNT_PATH"] = Path.Combine(_top, "scratch"),
            ["FILESYSTEMS:scratch:MOUNT_ALIAS"] = "/scratch",
        });
        var client = host.Services.GetRequiredService<IClientFactory>().CreateRequestClient<SaveFile>();

        var saved = await client.GetResponse<FileSaved, FileRequestFailed>(
            new SaveFile("mounted", "/data/run1/out.txt", "TextFile", JsonSerializer.SerializeToElement("hello"), CreateDir: true, Overwrite: false));
        var scratch = await client.GetResponse<FileSaved, FileRequestFailed>(
            new SaveFile("scratch", "/scratch/a.txt", "TextFile", JsonSerializer.SerializeToElement("b"), CreateDir: false, Overwrite: false));
        var unknown = await client.GetResponse<FileSaved, FileRequestFailed>(
            new SaveFile("nope", "x.txt", "TextFile", JsonSerializer.SerializeToElement("b"), CreateDir: false, Overwrite: false));

        var rep = Assert.IsType<FileSaved>(saved.Message).File;
        Assert.Equal(new FileRep("/data/run1/out.txt", "lume_services.files.file:File[TextSerializer]", "mounted"), rep);
        Assert.Equal("hello", await File.ReadAllTextAsync(Path.Combine(MountPath, "run1", "out.txt")));
        Assert.IsType<FileSaved>(scratch.Message);
        Assert.Equal("b", await File.ReadAllTextAsync(Path.Combine(_top, "scratch", "a.txt")));
        var failed = Assert.IsType<FileRequestFailed>(unknown.Message);
        Assert.Equal("FilesystemNotConfigured", failed.ErrorType);
        Assert.Contains("configured: local, mounted, scratch", failed.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("MOUNT_PATH", "LUME_MOUNTED_FILESYSTEM__MOUNT_PATH is not set")]
    [InlineData("MOUNT_TYPE", "LUME_MOUNTED_FILESYSTEM__MOUNT_PATH")]
    public async Task AMisconfiguredMount_StopsTheStart_NamingTheVariable(string broken, string expected)
    {
        var settings = new Dictionary<string, string?>
        {
            ["MOUNTED_FILESYSTEM:IDENTIFIER"] = "mounted",
            ["MOUNTED_FILESYSTEM:MOUNT_PATH"] = Path.Combine(_top, "missing"),
            ["MOUNTED_FILESYSTEM:MOUNT_ALIAS"] = "/data",
            ["MOUNTED_FILESYSTEM:MOUNT_TYPE"] = "Directory",
        };
        if (broken == "MOUNT_PATH")
            settings.Remove("MOUNTED_FILESYSTEM:MOUNT_PATH");

        var error = await Assert.ThrowsAsync<LumeStartupException>(() => LumeTestHost.StartAsync(builder => builder.AddLumeFileService(), settings));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_top, "missing")));
    }
}

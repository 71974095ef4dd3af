using System.Text.Json;
using Lume.Contracts;
using Lume.Testing;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace Lume.FileService.Tests;

public sealed class FileConsumerTests : IAsyncLifetime
{
    LumeTestHost _host = null!;

    public async Task InitializeAsync() => _host = await LumeTestHost.StartAsync(builder => builder.AddLumeFileService());

    public async Task DisposeAsync() => await _host.DisposeAsync();

    string Root => Path.Combine(_host.DataDir, "files");

    async Task<Response> SaveAsync(string filesystem, string filename, object? obj, string type = "TextFile", bool createDir = false)
    {
        var client = _host.Services.GetRequiredService<IClientFactory>().CreateRequestClient<SaveFile>();
        return await client.GetResponse<FileSaved, FileRequestFailed>(
            new SaveFile(filesystem, filename, type, JsonSerializer.SerializeToElement(obj), createDir, Overwrite: true));
    }

    async Task<Response> LoadAsync(FileRep rep)
    {
        var client = _host.Services.GetRequiredService<IClientFactory>().CreateRequestClient<LoadFile>();
        return await client.GetResponse<FileLoaded, FileRequestFailed>(new LoadFile(rep));
    }

    static FileRequestFailed Failure(Response response) => Assert.IsType<FileRequestFailed>(response.Message);

    [Fact]
    public async Task SaveFile_WritesTheText_AndAnswersWithTheUpstreamFileRep()
    {
        var response = await SaveAsync("local", "hello.txt", "HelloWorld");

        var saved = Assert.IsType<FileSaved>(response.Message);
        Assert.Equal(
            """{"filename":"hello.txt","file_type_string":"lume_services.files.file:File[TextSerializer]","filesystem_identifier":"local"}""",
            JsonSerializer.Serialize(saved.File));
        Assert.Equal("HelloWorld", await File.ReadAllTextAsync(Path.Combine(Root, "hello.txt")));
    }

    [Fact]
    public async Task LoadFile_ReadsBackWhatWasSaved_ByUpstreamTypeString()
    {
        var saved = Assert.IsType<FileSaved>((await SaveAsync("local", "sub/x.txt", "é ü ∑", createDir: true)).Message);

        var loaded = Assert.IsType<FileLoaded>((await LoadAsync(saved.File)).Message);

        Assert.Equal("é ü ∑", loaded.Obj.GetString());
        Assert.Equal(saved.File, loaded.File);
    }

    [Fact]
    public async Task SaveFile_ToAnUnknownFilesystem_IsRefusedListingTheConfiguredOnes()
    {
        var failed = Failure(await SaveAsync("mounted", "x.txt", "x"));

        Assert.Equal("FilesystemNotConfigured", failed.ErrorType);
        Assert.Contains("'mounted'", failed.Message, StringComparison.Ordinal);
        Assert.Contains("configured: local", failed.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(Root));
    }

    [Fact]
    public async Task SaveFile_OfAnUnknownType_IsRefused()
    {
        var failed = Failure(await SaveAsync("local", "x.bin", "x", type: "lume_services.files.file:File[NetCDFSerializer]"));

        Assert.Equal("UnknownFileType", failed.ErrorType);
        Assert.Contains("TextFile", failed.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(Root));
    }

    [Fact]
    public async Task SaveFile_OfATextFileThatIsNotAString_IsRefused()
    {
        var failed = Failure(await SaveAsync("local", "x.txt", new { a = 1 }));

        Assert.Equal("InvalidFileContent", failed.ErrorType);
        Assert.Empty(Directory.GetFileSystemEntries(Root));
    }

    [Fact]
    public async Task SaveFile_OutsideTheRoot_IsRefused()
    {
        var failed = Failure(await SaveAsync("local", "../escape.txt", "x"));

        Assert.Equal("PathNotInRoot", failed.ErrorType);
        Assert.False(File.Exists(Path.Combine(_host.DataDir, "escape.txt")));
    }

    [Fact]
    public async Task LoadFile_OfAMissingFile_Fails()
    {
        var failed = Failure(await LoadAsync(new FileRep("none.txt", "TextFile", "local")));

        Assert.Equal("FileNotFound", failed.ErrorType);
    }

    string[] RootTree() => Directory.GetFileSystemEntries(Root, "*", SearchOption.AllDirectories)
        .Order(StringComparer.Ordinal)
        .Select(p => File.Exists(p) ? $"{p} {File.ReadAllText(p)}" : $"{p}/")
        .ToArray();

    void Seed()
    {
        Directory.CreateDirectory(Path.Combine(Root, "dirA"));
        File.WriteAllText(Path.Combine(Root, "file.txt"), "original");
    }

    [Theory]
    [InlineData("a\0b.txt", "InvalidPath", "control character U+0000")]
    [InlineData("dirA/", "InvalidPath", "path 'dirA/' is refused")]
    [InlineData("new/", "InvalidPath", "path 'new/' is refused")]
    [InlineData("dirA", "IsADirectory", "'dirA' is a folder, not a file")]
    [InlineData("file.txt/x.txt", "NotADirectory", "which is a file, not a folder")]
    [InlineData(".lume-0123456789abcdef0123456789abcdef.tmp", "InvalidPath", "reserved")]
    [InlineData("../x.txt", "PathNotInRoot", "'..' may not appear in a path")]
    public async Task SaveFile_OfABadName_AnswersANamedFailure_AndLeavesTheRootUnchanged(string filename, string errorType, string fragment)
    {
        Seed();
        var before = RootTree();

        var failed = Failure(await SaveAsync("local", filename, "x", createDir: true));

        Assert.Equal(errorType, failed.ErrorType);
        Assert.Contains(fragment, failed.Message, StringComparison.Ordinal);
        Assert.StartsWith("filesystem 'local': ", failed.Message, StringComparison.Ordinal);
        Assert.Equal(before, RootTree());
    }

    [Fact]
    public async Task SaveFile_OfANameTooLong_AnswersInvalidPath_AndOf255Characters_Saves()
    {
        var failed = Failure(await SaveAsync("local", new string('n', 256), "x"));
        var saved = Assert.IsType<FileSaved>((await SaveAsync("local", new string('n', 255), "x")).Message);

        Assert.Equal("InvalidPath", failed.ErrorType);
        Assert.Contains("name too long", failed.Message, StringComparison.Ordinal);
        Assert.Equal("x", Assert.IsType<FileLoaded>((await LoadAsync(saved.File)).Message).Obj.GetString());
        Assert.Equal([new string('n', 255)], Directory.GetFileSystemEntries(Root).Select(Path.GetFileName));
    }

    [Fact]
    public async Task LoadFile_OfAFolder_AnswersIsADirectory()
    {
        Seed();

        var failed = Failure(await LoadAsync(new FileRep("dirA", "TextFile", "local")));

        Assert.Equal("IsADirectory", failed.ErrorType);
        Assert.Contains("'dirA' is a folder, not a file", failed.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ListFiles_OfAFile_AnswersNotADirectory()
    {
        Seed();
        var client = _host.Services.GetRequiredService<IClientFactory>().CreateRequestClient<ListFiles>();

        var response = await client.GetResponse<FilesListed, FileRequestFailed>(new ListFiles("local", "file.txt"));

        var failed = Failure(response);
        Assert.Equal("NotADirectory", failed.ErrorType);
        Assert.Contains("'file.txt' is a file, not a folder", failed.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Requests_MissingTheirNames_AnswerNamedFailures()
    {
        var files = _host.Services.GetRequiredService<IClientFactory>();

        var noFilename = Failure(await SaveAsync("local", null!, "x"));
        var noFilesystem = Failure(await files.CreateRequestClient<ListFiles>().GetResponse<FilesListed, FileRequestFailed>(new ListFiles(null!, null)));
        var noRep = Failure(await files.CreateRequestClient<LoadFile>().GetResponse<FileLoaded, FileRequestFailed>(new LoadFile(null!)));

        Assert.Equal(("InvalidPath", "filesystem 'local': the file name is empty; give the path of a file"), (noFilename.ErrorType, noFilename.Message));
        Assert.Equal("FilesystemNotConfigured", noFilesystem.ErrorType);
        Assert.Equal("InvalidPath", noRep.ErrorType);
        Assert.Contains("names no file", noRep.Message, StringComparison.Ordinal);
    }
}

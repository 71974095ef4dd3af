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
}

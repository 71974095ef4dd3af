using System.Text;
using System.Text.Json;
using Lume.Contracts;
using Lume.FileService.FileTypes;
using Lume.Testing;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace Lume.FileService.Tests.FileTypes;

public sealed class FileTypeTests : IAsyncLifetime
{
    LumeTestHost _host = null!;

    /// <summary>A user's own file type: text written upper-case.</summary>
    sealed class ShoutFileType : IFileType
    {
        public string TypeString => "my_lab.files:ShoutFile";

        public IReadOnlyList<string> Aliases { get; } = ["ShoutFile"];

        public byte[] Serialize(JsonElement obj) => Encoding.UTF8.GetBytes(obj.GetString()!.ToUpperInvariant());

        public JsonElement Deserialize(byte[] content) => JsonSerializer.SerializeToElement(Encoding.UTF8.GetString(content));
    }

    public async Task InitializeAsync() => _host = await LumeTestHost.StartAsync(builder =>
    {
        builder.AddLumeFileService();
        builder.Services.AddLumeFileType<ShoutFileType>();
    });

    public async Task DisposeAsync() => await _host.DisposeAsync();

    string Root => Path.Combine(_host.DataDir, "files");

    async Task<object> SaveAsync(string type, string filename, JsonElement obj)
    {
        var client = _host.Services.GetRequiredService<IClientFactory>().CreateRequestClient<SaveFile>();
        return (await client.GetResponse<FileSaved, FileRequestFailed>(new SaveFile("local", filename, type, obj, CreateDir: true, Overwrite: false))).Message;
    }

    async Task<object> LoadAsync(FileRep rep)
    {
        var client = _host.Services.GetRequiredService<IClientFactory>().CreateRequestClient<LoadFile>();
        return (await client.GetResponse<FileLoaded, FileRequestFailed>(new LoadFile(rep))).Message;
    }

    async Task<JsonElement> RoundTripAsync(string type, string filename, JsonElement obj)
    {
        var saved = Assert.IsType<FileSaved>(await SaveAsync(type, filename, obj));
        return Assert.IsType<FileLoaded>(await LoadAsync(saved.File)).Obj;
    }

    static readonly JsonElement Document = JsonSerializer.SerializeToElement(new
    {
        name = "lattice", energy = 1.5, count = 3, enabled = true, missing = (string?)null,
        elements = new object[] { "q1", 2, new { k = "v" } },
    });

    [Theory]
    [InlineData("YAMLFile")]
    [InlineData("lume_services.files.file:File[YAMLSerializer]")]
    [InlineData("JSONFile")]
    public async Task StructuredTypes_RoundTripAJsonDocument(string type)
    {
        var loaded = await RoundTripAsync(type, $"doc-{type.Length}.out", Document);

        Assert.Equal(JsonSerializer.Serialize(Document), JsonSerializer.Serialize(loaded));
    }

    [Fact]
    public async Task YamlFile_IsWrittenAsYaml()
    {
        await SaveAsync("YAMLFile", "config.yaml", Document);

        var text = await File.ReadAllTextAsync(Path.Combine(Root, "config.yaml"));

        Assert.Contains("name: lattice", text, StringComparison.Ordinal);
        Assert.Contains("energy: 1.5", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ImageAndBinary_RoundTripTheirBytes()
    {
        var png = new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10, 1, 2, 3 };
        var other = Enumerable.Range(0, 1000).Select(i => (byte)(i * 7)).ToArray();

        var image = await RoundTripAsync("lume_services.files.file:File[ImageSerializer]", "plot.png", JsonSerializer.SerializeToElement(png));
        byte[] hdf5 = [0x89, (byte)'H', (byte)'D', (byte)'F', 0x0D, 0x0A, 0x1A, 0x0A, 0, 1, 2];
        Assert.Equal(hdf5, (await RoundTripAsync("lume_services.files.file:File[HDF5Serializer]", "data.h5", JsonSerializer.SerializeToElement(hdf5))).GetBytesFromBase64());
        var binary = await RoundTripAsync("BinaryFile", "blob.bin", JsonSerializer.SerializeToElement(other));

        Assert.Equal(png, image.GetBytesFromBase64());
        Assert.Equal(png, await File.ReadAllBytesAsync(Path.Combine(Root, "plot.png")));
        Assert.Equal(other, binary.GetBytesFromBase64());
    }

    [Theory]
    [InlineData("ImageFile", "bm90IGFuIGltYWdl", "ImageFile holds PNG")]
    [InlineData("BinaryFile", "\"not base64!\"", "base64")]
    public async Task ContentATypeDoesNotHold_IsRefused_AndNothingIsWritten(string type, string content, string expected)
    {
        var obj = content.StartsWith('"') ? JsonSerializer.Deserialize<JsonElement>(content) : JsonSerializer.SerializeToElement(content);

        var failed = Assert.IsType<FileRequestFailed>(await SaveAsync(type, "bad.out", obj));

        Assert.Equal("InvalidFileContent", failed.ErrorType);
        Assert.Contains(expected, failed.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(Root, "bad.out")));
    }

    [Fact]
    public async Task AUsersOwnFileType_IsUsedByItsName()
    {
        var loaded = await RoundTripAsync("ShoutFile", "shout.txt", JsonSerializer.SerializeToElement("hello"));

        Assert.Equal("HELLO", loaded.GetString());
        Assert.Equal("HELLO", await File.ReadAllTextAsync(Path.Combine(Root, "shout.txt")));
    }

    [Fact]
    public async Task LoadingAYamlFileThatIsNotYaml_Fails()
    {
        await File.WriteAllTextAsync(Path.Combine(Directory.CreateDirectory(Root).FullName, "broken.yaml"), "a: [unclosed");

        var failed = Assert.IsType<FileRequestFailed>(await LoadAsync(new FileRep("broken.yaml", "YAMLFile", "local")));

        Assert.Equal("InvalidFileContent", failed.ErrorType);
    }
}

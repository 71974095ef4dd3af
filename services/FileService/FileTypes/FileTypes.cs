using System.Text;
using System.Text.Json;

namespace Lume.FileService.FileTypes;

/// <summary>How one kind of file turns a JSON object into bytes and back.</summary>
public interface IFileType
{
    /// <summary>The type string written into file reps (the upstream one where upstream has the type).</summary>
    string TypeString { get; }

    /// <summary>Other names accepted for the type, e.g. <c>TextFile</c>.</summary>
    IReadOnlyList<string> Aliases { get; }

    byte[] Serialize(JsonElement obj);

    JsonElement Deserialize(byte[] content);
}

/// <summary>Upstream's TextFile: the object is a JSON string, written as UTF-8 text.</summary>
public sealed class TextFileType : IFileType
{
    public string TypeString => "lume_services.files.file:File[TextSerializer]";

    public IReadOnlyList<string> Aliases { get; } = ["TextFile", "text"];

    public byte[] Serialize(JsonElement obj) => obj.ValueKind == JsonValueKind.String
        ? Encoding.UTF8.GetBytes(obj.GetString()!)
        : throw new FileServiceException("InvalidFileContent", $"a TextFile holds a string, not JSON {obj.ValueKind.ToString().ToLowerInvariant()}");

    public JsonElement Deserialize(byte[] content) => JsonSerializer.SerializeToElement(Encoding.UTF8.GetString(content));
}

/// <summary>The file types this FileService knows, by type string and alias.</summary>
public sealed class FileTypeRegistry(IEnumerable<IFileType> types)
{
    readonly IFileType[] _types = types.ToArray();

    /// <summary>The type named by a type string or alias; an unknown one is UnknownFileType, listing the known ones.</summary>
    public IFileType Get(string name) =>
        _types.FirstOrDefault(t => t.TypeString == name || t.Aliases.Contains(name))
        ?? throw new FileServiceException("UnknownFileType",
            $"file type '{name}' is unknown; known: {string.Join(", ", _types.SelectMany(t => t.Aliases.Prepend(t.TypeString)))}");
}

/// <summary>Upstream's YAML file: any JSON value, written as YAML; plain scalars read back as numbers, booleans and nulls where they parse as such.</summary>
public sealed class YamlFileType : IFileType
{
    static readonly YamlDotNet.Serialization.ISerializer Writer = new YamlDotNet.Serialization.SerializerBuilder().Build();
    static readonly YamlDotNet.Serialization.IDeserializer Reader = new YamlDotNet.Serialization.DeserializerBuilder()
        .WithAttemptingUnquotedStringTypeDeserialization()
        .Build();

    public string TypeString => "lume_services.files.file:File[YAMLSerializer]";

    public IReadOnlyList<string> Aliases { get; } = ["YAMLFile", "yaml"];

    public byte[] Serialize(JsonElement obj) => Encoding.UTF8.GetBytes(Writer.Serialize(ToPlain(obj)));

    public JsonElement Deserialize(byte[] content)
    {
        try
        {
            return JsonSerializer.SerializeToElement(FromYaml(Reader.Deserialize<object?>(Encoding.UTF8.GetString(content))));
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            throw new FileServiceException("InvalidFileContent", $"not YAML: {e.Message}");
        }
    }

    static object? ToPlain(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => value.EnumerateObject().ToDictionary(p => p.Name, p => ToPlain(p.Value)),
        JsonValueKind.Array => value.EnumerateArray().Select(ToPlain).ToList(),
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Number => value.TryGetInt64(out var whole) ? whole : value.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };

    static object? FromYaml(object? value) => value switch
    {
        IDictionary<object, object?> map => map.ToDictionary(p => Convert.ToString(p.Key, System.Globalization.CultureInfo.InvariantCulture)!, p => FromYaml(p.Value)),
        IList<object?> list => list.Select(FromYaml).ToList(),
        _ => value,
    };
}

/// <summary>A JSON file: any JSON value, written as indented UTF-8 JSON.</summary>
public sealed class JsonFileType : IFileType
{
    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public string TypeString => "lume.files:File[JSONSerializer]";

    public IReadOnlyList<string> Aliases { get; } = ["JSONFile", "json"];

    public byte[] Serialize(JsonElement obj) => JsonSerializer.SerializeToUtf8Bytes(obj, Indented);

    public JsonElement Deserialize(byte[] content)
    {
        try
        {
            return JsonSerializer.Deserialize<JsonElement>(content);
        }
        catch (JsonException e)
        {
            throw new FileServiceException("InvalidFileContent", $"not JSON: {e.Message}");
        }
    }
}

/// <summary>Raw bytes, for anything that is neither text nor an image. In JSON the content is a base64 string.</summary>
public class BinaryFileType : IFileType
{
    public virtual string TypeString => "lume.files:File[BinarySerializer]";

    public virtual IReadOnlyList<string> Aliases { get; } = ["BinaryFile", "bytes"];

    public byte[] Serialize(JsonElement obj)
    {
        byte[] bytes;
        try
        {
            bytes = obj.ValueKind == JsonValueKind.String ? obj.GetBytesFromBase64() : throw new FormatException();
        }
        catch (FormatException)
        {
            throw new FileServiceException("InvalidFileContent", $"a {Aliases[0]} holds its bytes as a base64 string");
        }

        Check(bytes);
        return bytes;
    }

    public JsonElement Deserialize(byte[] content) => JsonSerializer.SerializeToElement(content);

    /// <summary>Refuses content this type does not hold.</summary>
    protected virtual void Check(byte[] content)
    {
    }
}

/// <summary>Upstream's image file: PNG, JPEG, GIF, BMP or TIFF bytes, as base64 in JSON.</summary>
public sealed class ImageFileType : BinaryFileType
{
    static readonly byte[][] Signatures =
    [
        [0x89, (byte)'P', (byte)'N', (byte)'G'], [0xFF, 0xD8, 0xFF], [(byte)'G', (byte)'I', (byte)'F', (byte)'8'],
        [(byte)'B', (byte)'M'], [(byte)'I', (byte)'I', 42, 0], [(byte)'M', (byte)'M', 0, 42],
    ];

    public override string TypeString => "lume_services.files.file:File[ImageSerializer]";

    public override IReadOnlyList<string> Aliases { get; } = ["ImageFile", "image"];

    protected override void Check(byte[] content)
    {
        if (!Signatures.Any(s => content.AsSpan().StartsWith(s)))
            throw new FileServiceException("InvalidFileContent", "an ImageFile holds PNG, JPEG, GIF, BMP or TIFF bytes; use BinaryFile for other bytes");
    }
}

/// <summary>Upstream's HDF5 file, moved as the bytes it is (base64 in JSON, or by claim check); Lume does not read inside it.</summary>
public sealed class Hdf5FileType : BinaryFileType
{
    static readonly byte[] Signature = [0x89, (byte)'H', (byte)'D', (byte)'F', 0x0D, 0x0A, 0x1A, 0x0A];

    public override string TypeString => "lume_services.files.file:File[HDF5Serializer]";

    public override IReadOnlyList<string> Aliases { get; } = ["HDF5File", "hdf5"];

    protected override void Check(byte[] content)
    {
        if (!content.AsSpan().StartsWith(Signature))
            throw new FileServiceException("InvalidFileContent", "an HDF5File holds HDF5 bytes (they start with \\x89HDF)");
    }
}

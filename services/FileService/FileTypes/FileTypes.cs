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

using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Lume.Cli;

/// <summary>Flow files: JSON, or YAML (<c>.yaml</c>, <c>.yml</c>) read into the same JSON form.</summary>
public static class FlowFiles
{
    /// <summary>The file's content as JSON; a <see cref="FlowFileException"/> names the file, and the line where it could not be read.</summary>
    public static JsonNode Read(string path)
    {
        if (!File.Exists(path))
            throw new FlowFileException($"{path}: no such file");
        var text = File.ReadAllText(path);
        var yaml = Path.GetExtension(path).ToLowerInvariant() is ".yaml" or ".yml";
        try
        {
            return (yaml ? FromYaml(text) : JsonNode.Parse(text)) ?? throw new FlowFileException($"{path}: the file is empty");
        }
        catch (JsonException e)
        {
            throw new FlowFileException($"{path}: not JSON, line {e.LineNumber + 1}: {e.Message}");
        }
        catch (YamlException e)
        {
            throw new FlowFileException($"{path}: not YAML, line {e.Start.Line}, column {e.Start.Column}: {e.InnerException?.Message ?? e.Message}");
        }
    }

    /// <summary>YAML as JSON: a quoted scalar is a string; a plain one is null, a boolean or a number when it reads as one, else a string.</summary>
    public static JsonNode? FromYaml(string text)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        return stream.Documents.Count == 0 ? null : Convert(stream.Documents[0].RootNode);
    }

    static JsonNode? Convert(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(p =>
            KeyValuePair.Create(((YamlScalarNode)p.Key).Value ?? "", Convert(p.Value)))),
        YamlSequenceNode list => new JsonArray(list.Children.Select(Convert).ToArray()),
        YamlScalarNode scalar => Scalar(scalar),
        _ => throw new YamlException(node.Start, node.End, $"unsupported YAML node {node.NodeType}"),
    };

    static JsonNode? Scalar(YamlScalarNode scalar)
    {
        var value = scalar.Value ?? "";
        if (scalar.Style is not (ScalarStyle.Plain or ScalarStyle.Any))
            return JsonValue.Create(value);
        if (value is "" or "~" or "null" or "Null" or "NULL")
            return null;
        if (value is "true" or "True" or "TRUE")
            return JsonValue.Create(true);
        if (value is "false" or "False" or "FALSE")
            return JsonValue.Create(false);
        if (long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var whole))
            return JsonValue.Create(whole);
        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && double.IsFinite(number))
            return JsonValue.Create(number);
        return JsonValue.Create(value);
    }
}

/// <summary>A flow file that cannot be read, with the file and place named.</summary>
public sealed class FlowFileException(string message) : Exception(message);

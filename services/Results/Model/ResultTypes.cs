using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Lume.Results.Model;

/// <summary>What a field of a result type holds.</summary>
public enum ResultFieldKind
{
    /// <summary>Any JSON value.</summary>
    Json,

    /// <summary>A JSON object.</summary>
    Object,

    /// <summary>A file rep: an object with filename, file_type_string and filesystem_identifier.</summary>
    FileRep,

    /// <summary>An ISO 8601 date and time.</summary>
    DateTime,
}

/// <summary>A field a result type adds to the generic ones (flow_id, inputs, outputs).</summary>
public sealed record ResultField(string Name, ResultFieldKind Kind, bool Required);

/// <summary>A result type: its upstream type string, other names for it, and its own fields.</summary>
public sealed record ResultType(string TypeString, IReadOnlyList<string> Aliases, IReadOnlyList<ResultField> Fields)
{
    public static readonly ResultType Generic = new("lume_services.results.generic.Result", ["Result", "generic"], []);

    public static readonly ResultType Impact = new("lume_services.results.impact.ImpactResult", ["ImpactResult"],
    [
        new("plot_file", ResultFieldKind.FileRep, Required: false),
        new("archive", ResultFieldKind.FileRep, Required: true),
        new("pv_collection_isotime", ResultFieldKind.DateTime, Required: true),
        new("config", ResultFieldKind.Object, Required: true),
    ]);
}

/// <summary>The result types this service knows, by type string or alias. Add your own with <c>services.AddLumeResultType(...)</c>.</summary>
public sealed class ResultTypeRegistry(IEnumerable<ResultType> types)
{
    readonly ResultType[] _types = types.ToArray();

    public ResultType Get(string name) =>
        _types.FirstOrDefault(t => t.TypeString == name || t.Aliases.Contains(name))
        ?? throw new ResultException("UnknownResultType",
            $"result type '{name}' is unknown; known: {string.Join(", ", _types.Select(t => t.TypeString))}");
}

/// <summary>Turns a submitted result into the db-dict that is stored, checking it against its type.</summary>
public static class ResultDocuments
{
    static readonly string[] Generic = ["project_name", "collection", "flow_id", "inputs", "outputs", "result_type_string", "date_modified", "unique_hash"];

    /// <summary>
    /// The db-dict, keys in upstream's order: collection, flow_id, inputs, outputs, date_modified, unique_hash,
    /// result_type_string, then the type's own fields. <c>date_modified</c> is now (UTC, milliseconds), not whatever was sent.
    /// </summary>
    public static JsonObject ToDbDict(JsonElement result, ResultTypeRegistry types, DateTimeOffset now)
    {
        if (result.ValueKind != JsonValueKind.Object)
            throw new ResultException("InvalidResult", $"a result must be a JSON object, not {KindOf(result)}");
        var unstorable = new List<string>();
        StorableJson.Check(result, "", 1, unstorable);
        if (unstorable.Count > 0)
            throw new ResultException("InvalidResult", $"the result cannot be stored unchanged: {string.Join("; ", unstorable)}");

        var problems = new List<string>();
        var typeName = OptionalString(result, "result_type_string", problems);
        if (problems.Count > 0)
            throw new ResultException("InvalidResult", $"invalid result: {problems[0]}");
        var type = types.Get(typeName ?? ResultType.Generic.TypeString);
        foreach (var property in result.EnumerateObject())
            if (!Generic.Contains(property.Name) && type.Fields.All(f => f.Name != property.Name))
                problems.Add($"field '{property.Name}' is not a field of {type.TypeString}");

        var collectionField = IsGiven(result, "project_name") ? "project_name" : "collection";
        var collection = OptionalString(result, "project_name", problems) ?? OptionalString(result, "collection", problems) ?? "local";
        if (StorableJson.CollectionProblem(collection) is { } badCollection)
            problems.Add($"{collectionField} '{collection}' cannot name a collection: {badCollection}");
        var flowId = OptionalString(result, "flow_id", problems);
        if (!IsGiven(result, "flow_id"))
            problems.Add("flow_id is missing");
        var inputs = ObjectField(result, "inputs", problems);
        var outputs = ObjectField(result, "outputs", problems);
        var extra = new List<(string, JsonNode?)>();
        foreach (var field in type.Fields)
        {
            if (!result.TryGetProperty(field.Name, out var value) || value.ValueKind == JsonValueKind.Null)
            {
                if (field.Required)
                    problems.Add($"field '{field.Name}' is required by {type.TypeString}");
                continue;
            }

            if (Check(field, value) is { } problem)
                problems.Add(problem);
            extra.Add((field.Name, JsonNode.Parse(value.GetRawText())));
        }

        if (problems.Count > 0)
            throw new ResultException("InvalidResult", $"invalid {type.TypeString}: {string.Join("; ", problems)}");

        var dbDict = new JsonObject
        {
            ["collection"] = collection,
            ["flow_id"] = flowId,
            ["inputs"] = JsonNode.Parse(inputs.GetRawText()),
            ["outputs"] = JsonNode.Parse(outputs.GetRawText()),
            ["date_modified"] = now.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
            ["unique_hash"] = ResultHash.Compute(inputs, outputs, flowId!),
            ["result_type_string"] = type.TypeString,
        };
        foreach (var (name, value) in extra)
            dbDict[name] = value;
        return dbDict;
    }

    /// <summary>How messages name the kind of a JSON value.</summary>
    public static string KindOf(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Undefined => "nothing",
        JsonValueKind.Null => "null",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        var kind => $"a {kind.ToString().ToLowerInvariant()}",
    };

    // Absent and null both mean "not given", as for a type's own optional fields.
    static bool IsGiven(JsonElement result, string name) =>
        result.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null;

    static string? OptionalString(JsonElement result, string name, List<string> problems)
    {
        if (!IsGiven(result, name))
            return null;
        var value = result.GetProperty(name);
        if (value.ValueKind == JsonValueKind.String)
            return value.GetString();
        problems.Add($"{name} must be a string, not {KindOf(value)}");
        return null;
    }

    static JsonElement ObjectField(JsonElement result, string name, List<string> problems)
    {
        if (result.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Object)
            return value;
        problems.Add(value.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null
            ? $"{name} is missing"
            : $"{name} must be a JSON object, not {KindOf(value)}");
        return JsonDocument.Parse("{}").RootElement;
    }

    static string? Check(ResultField field, JsonElement value) => field.Kind switch
    {
        ResultFieldKind.Object when value.ValueKind != JsonValueKind.Object => $"field '{field.Name}' must be a JSON object",
        ResultFieldKind.FileRep when value.ValueKind != JsonValueKind.Object
            || !new[] { "filename", "file_type_string", "filesystem_identifier" }.All(k => value.TryGetProperty(k, out var v) && v.ValueKind == JsonValueKind.String)
            => $"field '{field.Name}' must be a file rep (filename, file_type_string, filesystem_identifier)",
        ResultFieldKind.DateTime when value.ValueKind != JsonValueKind.String
            || !DateTimeOffset.TryParse(value.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out _)
            => $"field '{field.Name}' must be an ISO 8601 date and time",
        _ => null,
    };
}

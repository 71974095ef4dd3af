using Lume.Flows;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lume.Contracts;
using Lume.Results.Model;
using Lume.Results.Stores;

namespace Lume.Results;

/// <summary>The Results service's requests, free of the bus: store, load by rep, query.</summary>
public sealed class ResultService(IResultStore store, ResultTypeRegistry types, TimeProvider time)
{
    /// <summary>Stores a result; storing the same one again returns the same rep and keeps one copy.</summary>
    public async Task<(ResultRep Rep, bool Created)> StoreAsync(JsonElement result, CancellationToken cancellationToken)
    {
        var dbDict = ResultDocuments.ToDbDict(result, types, time.GetUtcNow());
        var (stored, created) = await store.InsertAsync(dbDict, cancellationToken);
        return (RepOf(stored), created);
    }

    /// <summary>The result a rep finds, or the value the attribute index picks out of it.</summary>
    public async Task<JsonElement> LoadAsync(JsonElement rep, IReadOnlyList<JsonElement>? attributeIndex, CancellationToken cancellationToken)
    {
        var (collection, query) = ParseRep(rep);
        if (!await store.CollectionExistsAsync(collection, cancellationToken))
            throw new ResultException("UnknownCollection", $"collection (project_name) '{collection}' holds no results");
        var found = await store.FindAsync(collection, query, 2, cancellationToken);
        var describe = string.Join(", ", query.Select(q => $"{q.Key}={q.Value.GetRawText()}"));
        var document = found.Count switch
        {
            0 => throw new ResultException("NoResultFound", $"no result in collection '{collection}' matches {describe}"),
            > 1 => throw new ResultException("MultipleResultsFound", $"more than one result in collection '{collection}' matches {describe}; query by unique_hash"),
            _ => found[0],
        };
        return JsonSerializer.SerializeToElement(Index(document, attributeIndex ?? []));
    }

    /// <summary>The db-dicts of a collection whose fields equal the given values, newest first.</summary>
    public async Task<IReadOnlyList<JsonElement>> QueryAsync(
        string? collection, IReadOnlyDictionary<string, JsonElement>? fields, int limit, CancellationToken cancellationToken)
    {
        var problems = new List<string>();
        if ((collection is null ? "it is missing" : StorableJson.CollectionProblem(collection)) is { } badCollection)
            problems.Add($"the project name cannot name a collection: {badCollection}");
        var wanted = QueryFields(fields ?? new Dictionary<string, JsonElement>(), "fields", problems);
        if (problems.Count > 0)
            throw new ResultException("MalformedQuery", string.Join("; ", problems));
        if (!await store.CollectionExistsAsync(collection!, cancellationToken))
            throw new ResultException("UnknownCollection", $"collection (project_name) '{collection}' holds no results");
        var found = await store.FindAsync(collection!, wanted, Math.Clamp(limit, 1, 10_000), cancellationToken);
        return found.Select(d => JsonSerializer.SerializeToElement(d)).ToArray();
    }

    ResultRep RepOf(JsonObject stored) => new(
        (string)stored["collection"]!,
        (string)stored["result_type_string"]!,
        new Dictionary<string, JsonElement> { ["unique_hash"] = JsonSerializer.SerializeToElement((string)stored["unique_hash"]!) });

    (string Collection, IReadOnlyDictionary<string, JsonElement> Query) ParseRep(JsonElement rep)
    {
        const string expected = "a result rep is {\"project_name\": ..., \"result_type_string\": ..., \"query\": {\"unique_hash\": ...}}";
        if (rep.ValueKind != JsonValueKind.Object
            || !rep.TryGetProperty("project_name", out var project) || project.ValueKind != JsonValueKind.String
            || !rep.TryGetProperty("result_type_string", out var type) || type.ValueKind != JsonValueKind.String
            || !rep.TryGetProperty("query", out var query) || query.ValueKind != JsonValueKind.Object || !query.EnumerateObject().Any())
            throw new ResultException("MalformedResultRep", $"malformed result rep {Shorten(rep)}: {expected}");

        var problems = new List<string>();
        StorableJson.Check(project, "project_name", 1, problems);
        StorableJson.Check(type, "result_type_string", 1, problems);
        if (problems.Count == 0 && StorableJson.CollectionProblem(project.GetString()!) is { } badCollection)
            problems.Add($"project_name cannot name a collection: {badCollection}");
        var named = new List<KeyValuePair<string, JsonElement>>();
        foreach (var property in query.EnumerateObject())
        {
            if (StorableJson.TryGetName(property, out var field))
                named.Add(new(field, property.Value));
            else
                problems.Add($"query.{field}: the field name holds an unpaired UTF-16 surrogate");
        }

        var fields = QueryFields(named, "query", problems);
        if (problems.Count > 0)
            throw new ResultException("MalformedResultRep", $"malformed result rep {Shorten(rep)}: {string.Join("; ", problems)}");
        types.Get(type.GetString()!);
        return (project.GetString()!, fields);
    }

    // Query values are checked as stored values are: MongoDB would read {"$ne": ...} in one as an operator, not a value.
    static Dictionary<string, JsonElement> QueryFields(IEnumerable<KeyValuePair<string, JsonElement>> query, string path, List<string> problems)
    {
        var fields = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var (field, value) in query)
        {
            if (StorableJson.QueryFieldProblem(field) is { } problem)
                problems.Add($"{path}.{field}: {problem}");
            else if (!fields.TryAdd(field, value))
                problems.Add($"{path}.{field}: the field appears more than once");
            else
                StorableJson.Check(value, $"{path}.{field}", 2, problems);
        }

        return fields;
    }

    static JsonNode? Index(JsonNode document, IReadOnlyList<JsonElement> index)
    {
        JsonNode? node = document;
        var path = "";
        foreach (var step in index)
        {
            node = (node, step.ValueKind) switch
            {
                (JsonObject o, JsonValueKind.String) when JsonLimits.IsText(step) && o.TryGetPropertyValue(step.GetString()!, out var next) => next,
                (JsonArray a, JsonValueKind.Number) when step.TryGetInt32(out var i) && i >= 0 && i < a.Count => a[i],
                _ => throw new ResultException("BadAttributeIndex",
                    $"attribute index step {step.GetRawText()} after [{path}] does not exist in the result" +
                    (node is JsonObject keys ? $"; keys there: {string.Join(", ", keys.Select(k => k.Key))}" : node is JsonArray list ? $"; a list of {list.Count}" : "")),
            };
            path = path.Length == 0 ? step.GetRawText() : $"{path}, {step.GetRawText()}";
        }

        return node?.DeepClone();
    }

    static string Shorten(JsonElement value)
    {
        var text = value.ValueKind == JsonValueKind.Undefined ? "(nothing)" : value.GetRawText();
        return text.Length <= 120 ? text : text[..117] + "...";
    }
}

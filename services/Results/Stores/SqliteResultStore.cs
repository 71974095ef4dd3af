using System.Text.Json;
using System.Text.Json.Nodes;
using Lume.Storage;

namespace Lume.Results.Stores;

/// <summary>The embedded result store: one SQLite table, unique on (collection, unique_hash), each document as JSON text.</summary>
/// <param name="path">The file.</param>
/// <param name="lost">Told when the file is removed while in use (see <see cref="SqliteDatabase"/>).</param>
public sealed class SqliteResultStore(string path, Action<string>? lost = null) : IResultStore
{
    readonly SqliteDatabase _database = new(path, "the Results store", lost);

    public Task InitializeAsync(CancellationToken cancellationToken) => _database.InitializeAsync("""
        CREATE TABLE IF NOT EXISTS results (
            collection TEXT NOT NULL, unique_hash TEXT NOT NULL, flow_id TEXT NOT NULL,
            date_modified TEXT NOT NULL, document TEXT NOT NULL,
            PRIMARY KEY (collection, unique_hash));
        CREATE INDEX IF NOT EXISTS results_by_flow ON results (collection, flow_id);
        """, cancellationToken);

    public async Task<(JsonObject Stored, bool Created)> InsertAsync(JsonObject dbDict, CancellationToken cancellationToken)
    {
        var collection = (string)dbDict["collection"]!;
        var hash = (string)dbDict["unique_hash"]!;
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var insert = connection.CreateCommand();
        insert.CommandText = """
            INSERT INTO results (collection, unique_hash, flow_id, date_modified, document)
            VALUES ($collection, $hash, $flow, $date, $document)
            ON CONFLICT (collection, unique_hash) DO NOTHING
            """;
        insert.Parameters.AddWithValue("$collection", collection);
        insert.Parameters.AddWithValue("$hash", hash);
        insert.Parameters.AddWithValue("$flow", (string)dbDict["flow_id"]!);
        insert.Parameters.AddWithValue("$date", (string)dbDict["date_modified"]!);
        insert.Parameters.AddWithValue("$document", dbDict.ToJsonString());
        if (await insert.ExecuteNonQueryAsync(cancellationToken) == 1)
            return (dbDict, true);

        var existing = await FindAsync(collection, new Dictionary<string, JsonElement> { ["unique_hash"] = JsonSerializer.SerializeToElement(hash) }, 1, cancellationToken);
        return (existing[0], false);
    }

    public async Task<bool> CollectionExistsAsync(string collection, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var select = connection.CreateCommand();
        select.CommandText = "SELECT EXISTS (SELECT 1 FROM results WHERE collection = $collection)";
        select.Parameters.AddWithValue("$collection", collection);
        return Convert.ToInt64(await select.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture) == 1;
    }

    public async Task<IReadOnlyList<JsonObject>> FindAsync(
        string collection, IReadOnlyDictionary<string, JsonElement> fields, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var select = connection.CreateCommand();
        // The indexed columns narrow in SQL; every other field is compared here as JSON, so 1 and 1.0 or "1" and 1
        // stay different, as in a JSON document store.
        var conditions = new List<string> { "collection = $collection" };
        select.Parameters.AddWithValue("$collection", collection);
        foreach (var column in new[] { "flow_id", "unique_hash" })
            if (fields.TryGetValue(column, out var value) && value.ValueKind == JsonValueKind.String)
            {
                conditions.Add($"{column} = ${column}");
                select.Parameters.AddWithValue($"${column}", value.GetString());
            }

        select.CommandText = $"SELECT document FROM results WHERE {string.Join(" AND ", conditions)} ORDER BY date_modified DESC";
        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        var wanted = fields.ToDictionary(f => f.Key, f => JsonNode.Parse(f.Value.GetRawText()));
        var found = new List<JsonObject>();
        while (found.Count < limit && await reader.ReadAsync(cancellationToken))
        {
            var document = JsonNode.Parse(reader.GetString(0))!.AsObject();
            if (wanted.All(w => JsonNode.DeepEquals(At(document, w.Key), w.Value)))
                found.Add(document);
        }

        return found;
    }

    static JsonNode? At(JsonObject document, string path)
    {
        JsonNode? node = document;
        foreach (var step in path.Split('.'))
            node = node is JsonObject o && o.TryGetPropertyValue(step, out var next) ? next : null;
        return node;
    }
}

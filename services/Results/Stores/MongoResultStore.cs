using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using MongoDB.Bson;
using MongoDB.Bson.IO;
using MongoDB.Driver;

namespace Lume.Results.Stores;

/// <summary>
/// The production result store: one MongoDB collection per project (upstream's <c>project_name</c>), each with a
/// unique index on <c>unique_hash</c> (upstream never made one, so duplicates slipped in).
/// </summary>
public sealed class MongoResultStore(IMongoDatabase database) : IResultStore
{
    static readonly JsonWriterSettings Relaxed = new() { OutputMode = JsonOutputMode.RelaxedExtendedJson };
    readonly ConcurrentDictionary<string, Task> _indexed = new(StringComparer.Ordinal);

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        foreach (var name in await (await database.ListCollectionNamesAsync(cancellationToken: cancellationToken)).ToListAsync(cancellationToken))
            await EnsureIndexAsync(name);
    }

    public async Task<(JsonObject Stored, bool Created)> InsertAsync(JsonObject dbDict, CancellationToken cancellationToken)
    {
        var collection = (string)dbDict["collection"]!;
        await EnsureIndexAsync(collection);
        try
        {
            await database.GetCollection<BsonDocument>(collection).InsertOneAsync(BsonDocument.Parse(dbDict.ToJsonString()), cancellationToken: cancellationToken);
            return (dbDict, true);
        }
        catch (MongoWriteException e) when (e.WriteError.Category == ServerErrorCategory.DuplicateKey)
        {
            var hash = JsonSerializer.SerializeToElement((string)dbDict["unique_hash"]!);
            return ((await FindAsync(collection, new Dictionary<string, JsonElement> { ["unique_hash"] = hash }, 1, cancellationToken))[0], false);
        }
    }

    public async Task<bool> CollectionExistsAsync(string collection, CancellationToken cancellationToken) =>
        await database.GetCollection<BsonDocument>(collection).CountDocumentsAsync(
            FilterDefinition<BsonDocument>.Empty, new CountOptions { Limit = 1 }, cancellationToken) > 0;

    public async Task<IReadOnlyList<JsonObject>> FindAsync(
        string collection, IReadOnlyDictionary<string, JsonElement> fields, int limit, CancellationToken cancellationToken)
    {
        var filter = Builders<BsonDocument>.Filter.And(fields.Select(f =>
            Builders<BsonDocument>.Filter.Eq(f.Key, BsonDocument.Parse($"{{\"v\": {f.Value.GetRawText()}}}")["v"])).Prepend(FilterDefinition<BsonDocument>.Empty));
        var documents = await database.GetCollection<BsonDocument>(collection)
            .Find(filter)
            .Project(Builders<BsonDocument>.Projection.Exclude("_id"))
            .Sort(Builders<BsonDocument>.Sort.Descending("date_modified"))
            .Limit(limit)
            .ToListAsync(cancellationToken);
        return documents.Select(d => JsonNode.Parse(d.ToJson(Relaxed))!.AsObject()).ToArray();
    }

    Task EnsureIndexAsync(string collection) => _indexed.GetOrAdd(collection, name =>
        database.GetCollection<BsonDocument>(name).Indexes.CreateOneAsync(new CreateIndexModel<BsonDocument>(
            Builders<BsonDocument>.IndexKeys.Ascending("unique_hash"), new CreateIndexOptions { Unique = true, Name = "unique_hash" })));
}

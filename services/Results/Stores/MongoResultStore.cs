using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lume.Results.Model;
using Lume.Storage;
using MongoDB.Bson;
using MongoDB.Bson.IO;
using MongoDB.Driver;

namespace Lume.Results.Stores;

/// <summary>
/// The production result store: one MongoDB collection per project (upstream's <c>project_name</c>), each with a
/// unique index on <c>unique_hash</c> (upstream never made one, so duplicates slipped in). A server that does not
/// answer or refuses the settings is reported as a <see cref="StoreUnavailableException"/>.
/// </summary>
public sealed class MongoResultStore(IMongoDatabase database) : IResultStore
{
    /// <summary>The most MongoDB keeps in one document (its maxBsonObjectSize).</summary>
    public const int MaxDocumentBytes = 16 * 1024 * 1024;

    static readonly JsonWriterSettings Relaxed = new() { OutputMode = JsonOutputMode.RelaxedExtendedJson };
    readonly ConcurrentDictionary<string, Lazy<Task>> _indexed = new(StringComparer.Ordinal);

    public Task InitializeAsync(CancellationToken cancellationToken) => GuardAsync(async () =>
    {
        foreach (var name in await (await database.ListCollectionNamesAsync(cancellationToken: cancellationToken)).ToListAsync(cancellationToken))
            await EnsureIndexAsync(name);
    });

    public async Task<(JsonObject Stored, bool Created)> InsertAsync(JsonObject dbDict, CancellationToken cancellationToken)
    {
        var collection = (string)dbDict["collection"]!;
        var document = BsonDocument.Parse(dbDict.ToJsonString());
        // The _id that MongoDB adds takes 17 bytes of the limit.
        if (document.ToBson().Length + 17 > MaxDocumentBytes)
            throw TooLarge(document);
        return await GuardAsync(async () =>
        {
            await EnsureIndexAsync(collection);
            try
            {
                await database.GetCollection<BsonDocument>(collection).InsertOneAsync(document, cancellationToken: cancellationToken);
                return (dbDict, true);
            }
            catch (MongoWriteException e) when (e.WriteError.Category == ServerErrorCategory.DuplicateKey)
            {
                var hash = JsonSerializer.SerializeToElement((string)dbDict["unique_hash"]!);
                return ((await FindAsync(collection, new Dictionary<string, JsonElement> { ["unique_hash"] = hash }, 1, cancellationToken))[0], false);
            }
        });
    }

    public Task<bool> CollectionExistsAsync(string collection, CancellationToken cancellationToken) => GuardAsync(async () =>
        await database.GetCollection<BsonDocument>(collection).CountDocumentsAsync(
            FilterDefinition<BsonDocument>.Empty, new CountOptions { Limit = 1 }, cancellationToken) > 0);

    public Task<IReadOnlyList<JsonObject>> FindAsync(
        string collection, IReadOnlyDictionary<string, JsonElement> fields, int limit, CancellationToken cancellationToken) => GuardAsync(async () =>
    {
        var filter = Builders<BsonDocument>.Filter.And(fields.Select(f =>
            Builders<BsonDocument>.Filter.Eq(f.Key, BsonDocument.Parse($"{{\"v\": {f.Value.GetRawText()}}}")["v"])).Prepend(FilterDefinition<BsonDocument>.Empty));
        var documents = await database.GetCollection<BsonDocument>(collection)
            .Find(filter)
            .Project(Builders<BsonDocument>.Projection.Exclude("_id"))
            .Sort(Builders<BsonDocument>.Sort.Descending("date_modified"))
            .Limit(limit)
            .ToListAsync(cancellationToken);
        return (IReadOnlyList<JsonObject>)documents.Select(d => JsonNode.Parse(d.ToJson(Relaxed))!.AsObject()).ToArray();
    });

    // A failed attempt is forgotten, so the index is made once the server answers again.
    async Task EnsureIndexAsync(string collection)
    {
        var made = _indexed.GetOrAdd(collection, name => new Lazy<Task>(() =>
            database.GetCollection<BsonDocument>(name).Indexes.CreateOneAsync(new CreateIndexModel<BsonDocument>(
                Builders<BsonDocument>.IndexKeys.Ascending("unique_hash"), new CreateIndexOptions { Unique = true, Name = "unique_hash" }))));
        try
        {
            await made.Value;
        }
        catch
        {
            _indexed.TryRemove(new KeyValuePair<string, Lazy<Task>>(collection, made));
            throw;
        }
    }

    Task<T> GuardAsync<T>(Func<Task<T>> operation) => MongoSettings.GuardAsync(database, operation);

    Task GuardAsync(Func<Task> operation) => MongoSettings.GuardAsync(database, operation);

    static ResultException TooLarge(BsonDocument document)
    {
        var largest = document.Elements.MaxBy(e => new BsonDocument(e.Name, e.Value).ToBson().Length)!;
        return new ResultException("InvalidResult",
            $"the result takes {Mebibytes(document.ToBson().Length)} as BSON, more than the {Mebibytes(MaxDocumentBytes)} MongoDB keeps in one document; " +
            $"its largest field is {largest.Name} ({Mebibytes(new BsonDocument(largest.Name, largest.Value).ToBson().Length)})");
    }

    static string Mebibytes(int bytes) => $"{(bytes / 1024.0 / 1024.0).ToString("0.0", CultureInfo.InvariantCulture)} MiB";
}

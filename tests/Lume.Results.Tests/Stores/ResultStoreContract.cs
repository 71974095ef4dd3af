using System.Text.Json;
using System.Text.Json.Nodes;
using Lume.Results.Model;
using Lume.Results.Stores;
using Lume.Storage;
using MongoDB.Bson;
using MongoDB.Driver;

namespace Lume.Results.Tests.Stores;

/// <summary>What every IResultStore adapter must do; each adapter's test class derives from this one.</summary>
public abstract class ResultStoreContract : IAsyncLifetime
{
    IResultStore? _store;

    /// <summary>The store under test; a test that touches it is reported skipped when the adapter's server is not there.</summary>
    protected IResultStore Store
    {
        get
        {
            Skip.If(Unavailable is not null, Unavailable);
            return _store!;
        }
    }

    /// <summary>Why this adapter cannot be tested here, or null.</summary>
    protected virtual string? Unavailable => null;

    protected abstract Task<IResultStore> CreateAsync();

    protected virtual Task CleanUpAsync() => Task.CompletedTask;

    public async Task InitializeAsync()
    {
        if (Unavailable is not null)
            return;
        _store = await CreateAsync();
        await _store.InitializeAsync(CancellationToken.None);
    }

    public Task DisposeAsync() => Unavailable is null ? CleanUpAsync() : Task.CompletedTask;

    static readonly ResultTypeRegistry Types = new([ResultType.Generic, ResultType.Impact]);

    protected static JsonObject DbDict(string collection, string flowId, object inputs, object outputs, DateTimeOffset? at = null) =>
        ResultDocuments.ToDbDict(
            JsonSerializer.SerializeToElement(new { project_name = collection, flow_id = flowId, inputs, outputs }),
            Types, at ?? DateTimeOffset.UtcNow);

    static Dictionary<string, JsonElement> Where(params (string Field, object Value)[] fields) =>
        fields.ToDictionary(f => f.Field, f => JsonSerializer.SerializeToElement(f.Value));

    [SkippableFact]
    public async Task Insert_ThenFindByHash_ReturnsTheDocumentWithItsKeysInOrder()
    {
        var dbDict = DbDict("project-a", "flow2", new { input1 = "x" }, new { output1 = "x" });

        var (stored, created) = await Store.InsertAsync(dbDict, CancellationToken.None);
        var found = await Store.FindAsync("project-a", Where(("unique_hash", (string)dbDict["unique_hash"]!)), 10, CancellationToken.None);

        Assert.True(created);
        Assert.Equal(dbDict.ToJsonString(), Assert.Single(found).ToJsonString());
        Assert.Equal(["collection", "flow_id", "inputs", "outputs", "date_modified", "unique_hash", "result_type_string"], found[0].Select(p => p.Key).ToArray());
        Assert.Equal(stored.ToJsonString(), dbDict.ToJsonString());
    }

    [SkippableFact]
    public async Task InsertingTheSameResultTwice_KeepsOneCopy_AndReturnsTheFirst()
    {
        var first = DbDict("project-b", "f", new { a = 1 }, new { b = 2 }, DateTimeOffset.UtcNow.AddMinutes(-1));
        var second = DbDict("project-b", "f", new { a = 1 }, new { b = 2 });

        await Store.InsertAsync(first, CancellationToken.None);
        var (stored, created) = await Store.InsertAsync(second, CancellationToken.None);

        Assert.False(created);
        Assert.Equal(first["date_modified"]!.ToString(), stored["date_modified"]!.ToString());
        Assert.Single(await Store.FindAsync("project-b", Where(), 10, CancellationToken.None));
    }

    [SkippableFact]
    public async Task TheSameResultInAnotherCollection_IsAnotherDocument()
    {
        await Store.InsertAsync(DbDict("project-c", "f", new { a = 1 }, new { b = 2 }), CancellationToken.None);

        var (_, created) = await Store.InsertAsync(DbDict("project-d", "f", new { a = 1 }, new { b = 2 }), CancellationToken.None);

        Assert.True(created);
    }

    [SkippableFact]
    public async Task Find_ByFlowIdAndNestedFields_ComparesAsJson()
    {
        await Store.InsertAsync(DbDict("project-e", "f1", new { x = 1 }, new { y = "a" }), CancellationToken.None);
        await Store.InsertAsync(DbDict("project-e", "f1", new { x = 2 }, new { y = "a" }), CancellationToken.None);
        await Store.InsertAsync(DbDict("project-e", "f2", new { x = 1 }, new { y = "b" }), CancellationToken.None);

        Assert.Equal(2, (await Store.FindAsync("project-e", Where(("flow_id", "f1")), 10, CancellationToken.None)).Count);
        Assert.Equal(2, (await Store.FindAsync("project-e", Where(("inputs.x", 1)), 10, CancellationToken.None)).Count);
        Assert.Single(await Store.FindAsync("project-e", Where(("flow_id", "f1"), ("inputs.x", 2)), 10, CancellationToken.None));
        Assert.Empty(await Store.FindAsync("project-e", Where(("inputs.x", "1")), 10, CancellationToken.None));
        Assert.Single(await Store.FindAsync("project-e", Where(("flow_id", "f1")), 1, CancellationToken.None));
    }

    [SkippableFact]
    public async Task CollectionExists_OnlyOnceItHoldsAResult()
    {
        Assert.False(await Store.CollectionExistsAsync("project-f", CancellationToken.None));

        await Store.InsertAsync(DbDict("project-f", "f", new { a = 1 }, new { b = 2 }), CancellationToken.None);

        Assert.True(await Store.CollectionExistsAsync("project-f", CancellationToken.None));
    }
}

/// <summary>Runs against the MongoDB that <c>LUME_TEST_MONGODB_URI</c> names, in a database of its own that is dropped afterwards.</summary>
public sealed class MongoResultStoreTests : ResultStoreContract
{
    static readonly string? Uri = Environment.GetEnvironmentVariable("LUME_TEST_MONGODB_URI");
    readonly string _database = $"lume-test-{Guid.NewGuid():N}"[..24];

    protected override string? Unavailable =>
        string.IsNullOrWhiteSpace(Uri) ? "LUME_TEST_MONGODB_URI is not set: no MongoDB server to test the MongoDB adapter against" : null;

    MongoSettings Settings => new() { ConnectionString = Uri, Database = _database };

    protected override Task<IResultStore> CreateAsync() => Task.FromResult<IResultStore>(new MongoResultStore(Settings.Open("LUME_TEST_MONGODB_URI")));

    protected override Task CleanUpAsync() => Settings.Open("LUME_TEST_MONGODB_URI").Client.DropDatabaseAsync(_database);

    [SkippableFact]
    public async Task Initialize_CreatesTheUniqueIndexOnUniqueHash()
    {
        await Store.InsertAsync(DbDict("indexed", "f", new { a = 1 }, new { b = 2 }), CancellationToken.None);

        var indexes = await (await Settings.Open("LUME_TEST_MONGODB_URI").GetCollection<BsonDocument>("indexed").Indexes.ListAsync()).ToListAsync();

        Assert.Contains(indexes, i => i["name"] == "unique_hash" && i.GetValue("unique", false).ToBoolean());
    }
}

public sealed class SqliteResultStoreTests : ResultStoreContract
{
    readonly string _dir = Path.Combine(Path.GetTempPath(), "lume-tests", Guid.NewGuid().ToString("N"));

    protected override Task<IResultStore> CreateAsync() => Task.FromResult<IResultStore>(new SqliteResultStore(Path.Combine(_dir, "results.db")));

    protected override Task CleanUpAsync()
    {
        Directory.Delete(_dir, recursive: true);
        return Task.CompletedTask;
    }
}

using System.Text.Json;
using System.Text.Json.Nodes;
using Lume.Results.Model;
using Lume.Results.Stores;

namespace Lume.Results.Tests.Stores;

/// <summary>What every IResultStore adapter must do; each adapter's test class derives from this one.</summary>
public abstract class ResultStoreContract : IAsyncLifetime
{
    protected IResultStore Store { get; private set; } = null!;

    protected abstract Task<IResultStore> CreateAsync();

    protected virtual Task CleanUpAsync() => Task.CompletedTask;

    public async Task InitializeAsync()
    {
        Store = await CreateAsync();
        await Store.InitializeAsync(CancellationToken.None);
    }

    public Task DisposeAsync() => CleanUpAsync();

    static readonly ResultTypeRegistry Types = new([ResultType.Generic, ResultType.Impact]);

    protected static JsonObject DbDict(string collection, string flowId, object inputs, object outputs, DateTimeOffset? at = null) =>
        ResultDocuments.ToDbDict(
            JsonSerializer.SerializeToElement(new { project_name = collection, flow_id = flowId, inputs, outputs }),
            Types, at ?? DateTimeOffset.UtcNow);

    static Dictionary<string, JsonElement> Where(params (string Field, object Value)[] fields) =>
        fields.ToDictionary(f => f.Field, f => JsonSerializer.SerializeToElement(f.Value));

    [Fact]
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

    [Fact]
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

    [Fact]
    public async Task TheSameResultInAnotherCollection_IsAnotherDocument()
    {
        await Store.InsertAsync(DbDict("project-c", "f", new { a = 1 }, new { b = 2 }), CancellationToken.None);

        var (_, created) = await Store.InsertAsync(DbDict("project-d", "f", new { a = 1 }, new { b = 2 }), CancellationToken.None);

        Assert.True(created);
    }

    [Fact]
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

    [Fact]
    public async Task CollectionExists_OnlyOnceItHoldsAResult()
    {
        Assert.False(await Store.CollectionExistsAsync("project-f", CancellationToken.None));

        await Store.InsertAsync(DbDict("project-f", "f", new { a = 1 }, new { b = 2 }), CancellationToken.None);

        Assert.True(await Store.CollectionExistsAsync("project-f", CancellationToken.None));
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

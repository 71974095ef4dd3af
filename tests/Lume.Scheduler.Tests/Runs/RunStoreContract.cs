using Lume.Contracts;
using Lume.Flows;
using Lume.Scheduler.Runs;
using Lume.Storage;
using static Lume.Scheduler.Tests.TestFlows;

namespace Lume.Scheduler.Tests.Runs;

/// <summary>What every IRunStore (and IFlowStore) adapter must do; each adapter's test class derives from this one.</summary>
public abstract class RunStoreContract : IAsyncLifetime
{
    IRunStore? _runs;

    /// <summary>The store under test; a test that touches it is reported skipped when the adapter's server is not there.</summary>
    IRunStore Store
    {
        get
        {
            Skip.If(Unavailable is not null, Unavailable);
            return _runs!;
        }
    }

    /// <summary>Why this adapter cannot be tested here, or null.</summary>
    protected virtual string? Unavailable => null;

    protected abstract IRunStore Create();

    protected virtual Task CleanUpAsync() => Task.CompletedTask;

    public async Task InitializeAsync()
    {
        if (Unavailable is not null)
            return;
        _runs = Create();
        await _runs.InitializeAsync(CancellationToken.None);
    }

    public Task DisposeAsync() => Unavailable is null ? CleanUpAsync() : Task.CompletedTask;

    [SkippableFact]
    public async Task Flows_AreSavedReplacedAndListed()
    {
        var flows = (IFlowStore)Store;
        var at = DateTimeOffset.UtcNow;

        await flows.SaveFlowAsync(new RegisteredFlow(Diamond, "default", at), CancellationToken.None);
        await flows.SaveFlowAsync(new RegisteredFlow(Diamond, "gpu", at.AddSeconds(1)), CancellationToken.None);
        await flows.SaveFlowAsync(new RegisteredFlow(Upstream, "default", at), CancellationToken.None);
        var listed = await flows.ListFlowsAsync(CancellationToken.None);

        Assert.Equal(2, listed.Count);
        var diamond = listed.Single(f => f.Flow.Name == "diamond");
        Assert.Equal("gpu", diamond.Pool);
        Assert.Equal(FlowJson.Write(Diamond), FlowJson.Write(diamond.Flow));
    }

    static RunRecord NewRun(DateTimeOffset? at = null) =>
        RunProgression.Start(Guid.NewGuid(), Diamond, "default", Parameters(("start", 1)), at ?? DateTimeOffset.UtcNow).Run;

    [SkippableFact]
    public async Task Create_ThenFind_ReturnsTheSameRun()
    {
        var run = NewRun();
        RunProgression.Apply(run, Completed(run, "a", new { x = 1.5 }), DateTimeOffset.UtcNow);

        Assert.True(await Store.CreateAsync(run, CancellationToken.None));
        var found = (await Store.FindAsync(run.RunId, CancellationToken.None))!;

        Assert.Equal(run.Flow.Name, found.Flow.Name);
        Assert.Equal(1, found.Parameters["start"].GetInt32());
        Assert.Equal(TaskState.Completed, found.Tasks["a"].State);
        Assert.Equal("""{"x":1.5}""", found.Tasks["a"].Result!.Value.GetRawText());
        Assert.Equal(TaskState.Ready, found.Tasks["b"].State);
        Assert.Equal(run.CreatedAt, found.CreatedAt);
        Assert.All(found.Tasks.Values, t => Assert.False(t.Dirty));
    }

    [SkippableFact]
    public async Task Create_OfAnExistingRunId_ReturnsFalseAndKeepsTheFirst()
    {
        var run = NewRun();
        await Store.CreateAsync(run, CancellationToken.None);
        var twin = RunProgression.Start(run.RunId, Upstream, "default", Parameters(("text1", "x")), DateTimeOffset.UtcNow).Run;

        Assert.False(await Store.CreateAsync(twin, CancellationToken.None));
        Assert.Equal("diamond", (await Store.FindAsync(run.RunId, CancellationToken.None))!.Flow.Name);
    }

    [SkippableFact]
    public async Task Update_WritesChangedTasksAndTheRunState()
    {
        var run = NewRun();
        await Store.CreateAsync(run, CancellationToken.None);
        RunProgression.Apply(run, Failed(run, "a"), DateTimeOffset.UtcNow);

        await Store.UpdateAsync(run, CancellationToken.None);
        var found = (await Store.FindAsync(run.RunId, CancellationToken.None))!;

        Assert.Equal(RunState.Failed, found.State);
        Assert.Equal("a", found.FailedTask);
        Assert.Equal("InvalidOperationException", found.Tasks["a"].ErrorType);
        Assert.Equal(TaskState.Skipped, found.Tasks["d"].State);
        Assert.NotNull(found.FinishedAt);
    }

    [SkippableFact]
    public async Task Update_OfAStaleCopy_IsRefused()
    {
        var run = NewRun();
        await Store.CreateAsync(run, CancellationToken.None);
        var first = (await Store.FindAsync(run.RunId, CancellationToken.None))!;
        var second = (await Store.FindAsync(run.RunId, CancellationToken.None))!;
        RunProgression.Apply(first, Completed(first, "a", 1), DateTimeOffset.UtcNow);
        RunProgression.Apply(second, Failed(second, "a"), DateTimeOffset.UtcNow);

        await Store.UpdateAsync(first, CancellationToken.None);

        await Assert.ThrowsAsync<RunConcurrencyException>(() => Store.UpdateAsync(second, CancellationToken.None));
        Assert.Equal(TaskState.Completed, (await Store.FindAsync(run.RunId, CancellationToken.None))!.Tasks["a"].State);
    }

    [SkippableFact]
    public async Task List_ReturnsNewestFirst()
    {
        var start = DateTimeOffset.UtcNow;
        var runs = Enumerable.Range(0, 3).Select(i => NewRun(start.AddMinutes(i))).ToArray();
        foreach (var run in runs)
            await Store.CreateAsync(run, CancellationToken.None);

        var listed = await Store.ListAsync(2, null, null, CancellationToken.None);

        Assert.Equal([runs[2].RunId, runs[1].RunId], listed.Select(r => r.RunId).ToArray());
    }

    [SkippableFact]
    public async Task List_FiltersByFlowAndState_BeforeTheLimit_AndCountsEachRunsTasksByState()
    {
        var start = DateTimeOffset.UtcNow;
        var failed = NewRun(start);
        RunProgression.Apply(failed, Failed(failed, "a"), start);
        await Store.CreateAsync(failed, CancellationToken.None);
        var running = NewRun(start.AddMinutes(1));
        await Store.CreateAsync(running, CancellationToken.None);
        RunProgression.Apply(running, Completed(running, "a", 1), start.AddMinutes(1));
        await Store.UpdateAsync(running, CancellationToken.None);
        foreach (var minute in Enumerable.Range(2, 3))
            await Store.CreateAsync(RunProgression.Start(Guid.NewGuid(), Upstream, "default", Parameters(("text1", "x")), start.AddMinutes(minute)).Run,
                CancellationToken.None);

        var byFlow = await Store.ListAsync(1, "diamond", null, CancellationToken.None);
        var byState = await Store.ListAsync(1, null, RunState.Failed, CancellationToken.None);
        var both = await Store.ListAsync(10, "diamond", RunState.Running, CancellationToken.None);

        Assert.Equal([running.RunId], byFlow.Select(r => r.RunId));
        Assert.Equal([failed.RunId], byState.Select(r => r.RunId));
        Assert.Equal([running.RunId], both.Select(r => r.RunId));
        Assert.Empty(await Store.ListAsync(10, "upstream", RunState.Failed, CancellationToken.None));
        Assert.Equal(new Dictionary<TaskState, int> { [TaskState.Failed] = 1, [TaskState.Skipped] = 3 }, byState[0].TaskCounts);
        Assert.Equal(new Dictionary<TaskState, int> { [TaskState.Completed] = 1, [TaskState.Ready] = 2, [TaskState.Pending] = 1 }, byFlow[0].TaskCounts);
    }

    [SkippableFact]
    public async Task StoreId_IsMadeOnce_AndEverySchedulerThatOpensTheStoreSeesTheSameOne()
    {
        var first = await ((ISchedulerLease)Store).StoreIdAsync(CancellationToken.None);
        var reopened = Create();
        await reopened.InitializeAsync(CancellationToken.None);

        Assert.Matches("^[0-9a-f]{32}$", first);
        Assert.Equal(first, await ((ISchedulerLease)Store).StoreIdAsync(CancellationToken.None));
        Assert.Equal(first, await ((ISchedulerLease)reopened).StoreIdAsync(CancellationToken.None));
        (reopened as IDisposable)?.Dispose();
    }

    [SkippableFact]
    public async Task AMappedRun_IsFoundWithItsChildren_InOrder_AndGoesOnWhereItStopped()
    {
        var flow = Flow.Define("mapped", f => f.Task("sum", new { values = f.Map("power", new { x = f.Parameter("values") }, name: "square") }));
        var values = Enumerable.Range(1, 12).ToArray(); // square[10] sorts before square[2] as text
        var run = RunProgression.Start(Guid.NewGuid(), flow, "default", Parameters(("values", values)), DateTimeOffset.UtcNow).Run;
        await Store.CreateAsync(run, CancellationToken.None);
        foreach (var i in values[..^1])
            RunProgression.Apply(run, Completed(run, MappedSlug.Of("square", i - 1), i * i), DateTimeOffset.UtcNow);
        await Store.UpdateAsync(run, CancellationToken.None);

        var found = (await Store.FindAsync(run.RunId, CancellationToken.None))!;

        Assert.Equal(TaskState.Mapped, found.Tasks["square"].State);
        Assert.Equal(values.Select(i => MappedSlug.Of("square", i - 1)), found.ChildrenOf("square").Select(c => c.Slug));
        Assert.Equal(["square", .. values.Select(i => MappedSlug.Of("square", i - 1)), "sum"], found.OrderedTasks.Select(t => t.Slug));
        var step = RunProgression.Apply(found, Completed(found, "square[11]", 144), DateTimeOffset.UtcNow);
        var sum = Assert.Single(step.Messages.OfType<Contracts.TaskReady>());
        Assert.Equal(values.Select(i => i * i), sum.Inputs["values"].EnumerateArray().Select(v => v.GetInt32()));
    }

    [SkippableFact]
    public async Task AWideRunsQueuedReleases_AreStoredAsToBeSent_SoAfterARestartEveryReleasedTaskGoesOut()
    {
        var flow = Flow.Define("wide", f =>
        {
            foreach (var i in Enumerable.Range(0, RunProgression.ReleaseSlice + 10))
                f.Task("identity", new { value = i }, name: $"item-{i}");
        });
        var (run, start) = RunProgression.Start(Guid.NewGuid(), flow, "default", Parameters(), DateTimeOffset.UtcNow);
        Assert.Equal(RunProgression.ReleaseSlice, start.Messages.OfType<Contracts.TaskReady>().Count()); // ten are queued
        await Store.CreateAsync(run, CancellationToken.None);

        var found = (await Store.FindAsync(run.RunId, CancellationToken.None))!;
        var again = RunProgression.Apply(found, ResendUnsent.Instance, DateTimeOffset.UtcNow).Messages.OfType<Contracts.TaskReady>().ToArray();

        // The store cannot tell which of them went out before the restart: all go as copies, which a worker claims before running.
        Assert.Equal(flow.Tasks.Select(t => t.Slug), again.Select(t => t.TaskSlug));
        Assert.All(again, t => Assert.True(t.SentAgain));
    }

    [SkippableFact]
    public async Task Find_OfAnUnknownRun_ReturnsNull() =>
        Assert.Null(await Store.FindAsync(Guid.NewGuid(), CancellationToken.None));
}

public sealed class SqliteRunStoreTests : RunStoreContract
{
    readonly string _dir = Path.Combine(Path.GetTempPath(), "lume-tests", Guid.NewGuid().ToString("N"));

    protected override IRunStore Create() => new SqliteRunStore(Path.Combine(_dir, "nested", "runs.db"));

    [Fact]
    public async Task AnotherFile_IsAnotherStore_WithAnotherId()
    {
        using var one = (SqliteRunStore)Create();
        using var other = new SqliteRunStore(Path.Combine(_dir, "other", "runs.db"));
        await one.InitializeAsync(CancellationToken.None);
        await other.InitializeAsync(CancellationToken.None);

        Assert.NotEqual(await one.StoreIdAsync(CancellationToken.None), await other.StoreIdAsync(CancellationToken.None));
    }

    [Fact]
    public async Task RunsOfOneFlow_StoreItsDefinitionOnce_AndAreReadBackSharingIt()
    {
        var path = Path.Combine(_dir, "shared", "runs.db");
        using (var store = new SqliteRunStore(path))
        {
            await store.InitializeAsync(CancellationToken.None);
            var first = RunProgression.Start(Guid.NewGuid(), Diamond, "default", Parameters(("start", 1)), DateTimeOffset.UtcNow).Run;
            var second = RunProgression.Start(Guid.NewGuid(), Diamond, "default", Parameters(("start", 2)), DateTimeOffset.UtcNow).Run;
            var other = RunProgression.Start(Guid.NewGuid(), Upstream, "default", Parameters(("text1", "x")), DateTimeOffset.UtcNow).Run;
            foreach (var run in new[] { first, second, other })
                Assert.True(await store.CreateAsync(run, CancellationToken.None));

            Assert.Equal(2L, Scalar(path, "SELECT count(*) FROM definitions"));
            Assert.Same(Diamond, (await store.FindAsync(second.RunId, CancellationToken.None))!.Flow);
            Assert.Equal(2, (await store.FindAsync(second.RunId, CancellationToken.None))!.Parameters["start"].GetInt32());
        }

        // Another process (a restart) reads the definition back from the file: one copy for both runs.
        using var restarted = new SqliteRunStore(path);
        await restarted.InitializeAsync(CancellationToken.None);
        var runs = await restarted.ListAsync(10, null, null, CancellationToken.None);
        var diamonds = await Task.WhenAll(runs.Where(r => r.Flow == "diamond").Select(r => restarted.FindAsync(r.RunId, CancellationToken.None)));
        Assert.Equal(2, diamonds.Length);
        Assert.NotSame(Diamond, diamonds[0]!.Flow);
        Assert.Equal(FlowJson.Write(Diamond), FlowJson.Write(diamonds[0]!.Flow));
        Assert.Same(diamonds[0]!.Flow, diamonds[1]!.Flow);
    }

    [Fact]
    public async Task ARegisteredFlow_IsReadBackWhole_AfterARestart_AndARegistrationAgainReplacesIt()
    {
        var path = Path.Combine(_dir, "flows", "runs.db");
        var big = Flow.Define("wide", f =>
        {
            var items = Enumerable.Range(0, 2000).Select(i => f.Task("identity", new { value = new string('x', i % 50) }, name: $"item-{i}")).ToArray();
            f.Task("gather", items.Select((t, i) => (t, i)).ToDictionary(p => $"item-{p.i}", p => (object?)p.t), name: "gather");
        });
        var smaller = Flow.Define("wide", f => f.Task("identity", new { value = 1 }, name: "only"));
        using (var store = new SqliteRunStore(path))
        {
            await store.InitializeAsync(CancellationToken.None);
            await store.SaveFlowAsync(new RegisteredFlow(big, "default", DateTimeOffset.UtcNow), CancellationToken.None);
            await store.SaveFlowAsync(new RegisteredFlow(Diamond, "default", DateTimeOffset.UtcNow), CancellationToken.None);
        }

        using (var restarted = new SqliteRunStore(path))
        {
            await restarted.InitializeAsync(CancellationToken.None);
            var flows = await restarted.ListFlowsAsync(CancellationToken.None);
            Assert.Equal(FlowJson.Write(big), FlowJson.Write(flows.Single(f => f.Flow.Name == "wide").Flow));
            Assert.Equal(FlowJson.Write(Diamond), FlowJson.Write(flows.Single(f => f.Flow.Name == "diamond").Flow));
            await restarted.SaveFlowAsync(new RegisteredFlow(smaller, "other", DateTimeOffset.UtcNow), CancellationToken.None);
        }

        using var again = new SqliteRunStore(path);
        await again.InitializeAsync(CancellationToken.None);
        var wide = (await again.ListFlowsAsync(CancellationToken.None)).Single(f => f.Flow.Name == "wide");
        Assert.Equal((FlowJson.Write(smaller), "other"), (FlowJson.Write(wide.Flow), wide.Pool));
    }

    static long Scalar(string path, string sql)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path}");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (long)command.ExecuteScalar()!;
    }

    protected override Task CleanUpAsync()
    {
        Directory.Delete(_dir, recursive: true);
        return Task.CompletedTask;
    }
}

/// <summary>Runs against the MongoDB that <c>LUME_TEST_MONGODB_URI</c> names, in a database of its own that is dropped afterwards.</summary>
public sealed class MongoRunStoreTests : RunStoreContract
{
    static readonly string? Uri = Environment.GetEnvironmentVariable("LUME_TEST_MONGODB_URI");
    readonly string _database = $"lume-test-{Guid.NewGuid():N}"[..24];

    protected override string? Unavailable =>
        string.IsNullOrWhiteSpace(Uri) ? "LUME_TEST_MONGODB_URI is not set: no MongoDB server to test the MongoDB adapter against" : null;

    MongoSettings Settings => new() { ConnectionString = Uri, Database = _database };

    protected override IRunStore Create() => new MongoRunStore(Settings.Open("LUME_TEST_MONGODB_URI"));

    protected override Task CleanUpAsync() => Settings.Open("LUME_TEST_MONGODB_URI").Client.DropDatabaseAsync(_database);
}

using Lume.Scheduler.Runs;
using static Lume.Scheduler.Tests.TestFlows;

namespace Lume.Scheduler.Tests.Runs;

public sealed class SqliteRunStoreTests : IAsyncLifetime
{
    readonly string _dir = Path.Combine(Path.GetTempPath(), "lume-tests", Guid.NewGuid().ToString("N"));
    SqliteRunStore _store = null!;

    public async Task InitializeAsync()
    {
        _store = new SqliteRunStore(Path.Combine(_dir, "nested", "runs.db"));
        await _store.InitializeAsync(CancellationToken.None);
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_dir, recursive: true);
        return Task.CompletedTask;
    }

    static RunRecord NewRun(DateTimeOffset? at = null) =>
        RunProgression.Start(Guid.NewGuid(), Diamond, "default", Parameters(("start", 1)), at ?? DateTimeOffset.UtcNow).Run;

    [Fact]
    public async Task Create_ThenFind_ReturnsTheSameRun()
    {
        var run = NewRun();
        RunProgression.TaskCompleted(run, Completed(run.RunId, "a", new { x = 1.5 }), DateTimeOffset.UtcNow);

        Assert.True(await _store.CreateAsync(run, CancellationToken.None));
        var found = (await _store.FindAsync(run.RunId, CancellationToken.None))!;

        Assert.Equal(run.Flow.Name, found.Flow.Name);
        Assert.Equal(1, found.Parameters["start"].GetInt32());
        Assert.Equal(TaskState.Completed, found.Tasks["a"].State);
        Assert.Equal("""{"x":1.5}""", found.Tasks["a"].Result!.Value.GetRawText());
        Assert.Equal(TaskState.Ready, found.Tasks["b"].State);
        Assert.Equal(run.CreatedAt, found.CreatedAt);
        Assert.All(found.Tasks.Values, t => Assert.False(t.Dirty));
    }

    [Fact]
    public async Task Create_OfAnExistingRunId_ReturnsFalseAndKeepsTheFirst()
    {
        var run = NewRun();
        await _store.CreateAsync(run, CancellationToken.None);
        var twin = RunProgression.Start(run.RunId, Upstream, "default", Parameters(("text1", "x")), DateTimeOffset.UtcNow).Run;

        Assert.False(await _store.CreateAsync(twin, CancellationToken.None));
        Assert.Equal("diamond", (await _store.FindAsync(run.RunId, CancellationToken.None))!.Flow.Name);
    }

    [Fact]
    public async Task Update_WritesChangedTasksAndTheRunState()
    {
        var run = NewRun();
        await _store.CreateAsync(run, CancellationToken.None);
        RunProgression.TaskFailed(run, Failed(run.RunId, "a"), DateTimeOffset.UtcNow);

        await _store.UpdateAsync(run, CancellationToken.None);
        var found = (await _store.FindAsync(run.RunId, CancellationToken.None))!;

        Assert.Equal(RunState.Failed, found.State);
        Assert.Equal("a", found.FailedTask);
        Assert.Equal("InvalidOperationException", found.Tasks["a"].ErrorType);
        Assert.Equal(TaskState.Skipped, found.Tasks["d"].State);
        Assert.NotNull(found.FinishedAt);
    }

    [Fact]
    public async Task Update_OfAStaleCopy_IsRefused()
    {
        var run = NewRun();
        await _store.CreateAsync(run, CancellationToken.None);
        var first = (await _store.FindAsync(run.RunId, CancellationToken.None))!;
        var second = (await _store.FindAsync(run.RunId, CancellationToken.None))!;
        RunProgression.TaskCompleted(first, Completed(run.RunId, "a", 1), DateTimeOffset.UtcNow);
        RunProgression.TaskFailed(second, Failed(run.RunId, "a"), DateTimeOffset.UtcNow);

        await _store.UpdateAsync(first, CancellationToken.None);

        await Assert.ThrowsAsync<RunConcurrencyException>(() => _store.UpdateAsync(second, CancellationToken.None));
        Assert.Equal(TaskState.Completed, (await _store.FindAsync(run.RunId, CancellationToken.None))!.Tasks["a"].State);
    }

    [Fact]
    public async Task List_ReturnsNewestFirst()
    {
        var start = DateTimeOffset.UtcNow;
        var runs = Enumerable.Range(0, 3).Select(i => NewRun(start.AddMinutes(i))).ToArray();
        foreach (var run in runs)
            await _store.CreateAsync(run, CancellationToken.None);

        var listed = await _store.ListAsync(2, CancellationToken.None);

        Assert.Equal([runs[2].RunId, runs[1].RunId], listed.Select(r => r.RunId).ToArray());
    }

    [Fact]
    public async Task Find_OfAnUnknownRun_ReturnsNull() =>
        Assert.Null(await _store.FindAsync(Guid.NewGuid(), CancellationToken.None));
}

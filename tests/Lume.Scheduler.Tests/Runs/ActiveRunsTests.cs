using Lume.Contracts;
using Lume.Flows;
using Lume.Scheduler.Runs;
using Microsoft.Extensions.Time.Testing;
using static Lume.Scheduler.Tests.TestFlows;

namespace Lume.Scheduler.Tests.Runs;

public sealed class ActiveRunsTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("lume-active-runs-").FullName;
    readonly SlowStore _store;
    readonly ActiveRuns _runs;
    readonly FakeTimeProvider _time = new();

    public ActiveRunsTests()
    {
        _store = new SlowStore(new SqliteRunStore(Path.Combine(_dir, "scheduler.db")));
        _runs = new ActiveRuns(_store, _time);
    }

    public void Dispose()
    {
        _store.Inner.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    static readonly FlowDefinition Wide = Flow.Define("wide", f =>
    {
        var items = Enumerable.Range(1, 100).ToDictionary(i => $"item-{i}", object? (i) => f.Task("step", new { value = i }, name: $"item-{i}"));
        f.Task("gather", items, name: "all");
    });

    async Task<RunRecord> StartAsync()
    {
        await _store.InitializeAsync(CancellationToken.None);
        var (run, _) = RunProgression.Start(Guid.NewGuid(), Wide, "default", Parameters(), DateTimeOffset.UtcNow);
        Assert.True(await _runs.CreateAsync(run, CancellationToken.None));
        return run;
    }

    [Fact]
    public async Task EventsArrivingWhileAWriteIsUnderWay_AreStoredTogether_AndEachGetsItsOwnStep()
    {
        var run = await StartAsync();

        var steps = await Task.WhenAll(Enumerable.Range(1, 100).Select(i => _runs.ApplyAsync(run.RunId,
            r => RunProgression.Apply(r, Completed(r, $"item-{i}", i), DateTimeOffset.UtcNow))));

        Assert.All(steps, s => Assert.True(s!.Value.Step.Changed));
        Assert.Single(steps, s => s!.Value.Step.Messages.Count == 1); // the last one releases the fan-in
        Assert.InRange(_store.Writes, 1, 20); // batched: one write per batch, not per event
        var stored = (await _store.FindAsync(run.RunId, CancellationToken.None))!;
        Assert.Equal(100, stored.Tasks.Values.Count(t => t.State == TaskState.Completed));
        Assert.Equal(TaskState.Ready, stored.Tasks["all"].State);
    }

    [Fact]
    public async Task WhatTheEventsOfABatchRelease_GoesOutTogether_FromOneOfThem()
    {
        await _store.InitializeAsync(CancellationToken.None);
        var pairs = Flow.Define("pairs", f =>
        {
            foreach (var i in Enumerable.Range(1, 40))
                f.Task("step", new { value = f.Task("step", new { value = i }, name: $"a-{i}") }, name: $"b-{i}");
        });
        var (run, _) = RunProgression.Start(Guid.NewGuid(), pairs, "default", Parameters(), DateTimeOffset.UtcNow);
        Assert.True(await _runs.CreateAsync(run, CancellationToken.None));

        var steps = await Task.WhenAll(Enumerable.Range(1, 40).Select(i => _runs.ApplyAsync(run.RunId,
            r => RunProgression.Apply(r, Completed(r, $"a-{i}", i), DateTimeOffset.UtcNow))));

        // Each event released one task; a batch's releases are packed as one step's, so no batch sends from two of its events.
        var sending = steps.Select(s => s!.Value.Step).Where(s => s.Messages.Count > 0).ToList();
        Assert.Equal(Enumerable.Range(1, 40).Select(i => $"b-{i}").Order(), sending.SelectMany(Ready).Order());
        Assert.InRange(sending.Count, 1, _store.Writes);
        Assert.True(_store.Writes < 40, $"{_store.Writes} writes: the events were not batched");
    }

    [Fact]
    public async Task AnEventThatThrows_FailsAlone_AndTheOthersOfItsBatchAreStored()
    {
        var run = await StartAsync();

        var good = Enumerable.Range(1, 10).Select(i => _runs.ApplyAsync(run.RunId,
            r => RunProgression.Apply(r, Completed(r, $"item-{i}", i), DateTimeOffset.UtcNow))).ToList();
        var bad = _runs.ApplyAsync(run.RunId, r =>
        {
            RunProgression.Apply(r, Completed(r, "item-50", 50), DateTimeOffset.UtcNow);
            throw new InvalidOperationException("half way through");
        });

        await Task.WhenAll(good);
        await Assert.ThrowsAsync<InvalidOperationException>(() => bad);
        var stored = (await _store.FindAsync(run.RunId, CancellationToken.None))!;
        Assert.Equal(10, stored.Tasks.Values.Count(t => t.State == TaskState.Completed));
        Assert.Equal(TaskState.Ready, stored.Tasks["item-50"].State); // the failed event's change was not kept
        // Nor is it in the copy kept in memory: the next event sees the stored state.
        var next = await _runs.ApplyAsync(run.RunId, r => RunProgression.Apply(r, Completed(r, "item-50", 50), DateTimeOffset.UtcNow));
        Assert.True(next!.Value.Step.Changed);
    }

    [Fact]
    public async Task AnUnknownRun_GivesNull()
    {
        await _store.InitializeAsync(CancellationToken.None);
        Assert.Null(await _runs.ApplyAsync(Guid.NewGuid(), _ => Step.Unchanged));
    }

    [Fact]
    public async Task AFailedWrite_FailsTheBatch_AndNothingOfItIsKept()
    {
        var run = await StartAsync();
        _store.FailNextWrite = true;

        await Assert.ThrowsAsync<IOException>(() => _runs.ApplyAsync(run.RunId,
            r => RunProgression.Apply(r, Completed(r, "item-1", 1), DateTimeOffset.UtcNow)));
        var retried = await _runs.ApplyAsync(run.RunId,
            r => RunProgression.Apply(r, Completed(r, "item-1", 1), DateTimeOffset.UtcNow));

        Assert.True(retried!.Value.Step.Changed); // applied again to the stored run, not taken for a duplicate
        Assert.Equal(TaskState.Completed, (await _store.FindAsync(run.RunId, CancellationToken.None))!.Tasks["item-1"].State);
    }

    [Fact]
    public async Task AnEndedRun_IsReadFromMemoryForAWhile_ThenFromTheStore()
    {
        var run = await StartAsync();
        for (var i = 1; i <= 100; i++)
            await _runs.ApplyAsync(run.RunId, r => RunProgression.Apply(r, Completed(r, $"item-{i}", i), DateTimeOffset.UtcNow));
        var end = await _runs.ApplyAsync(run.RunId, r => RunProgression.Apply(r, Completed(r, "all", 0), DateTimeOffset.UtcNow));
        var ending = end!.Value.Step.Messages.OfType<Contracts.RunCompleted>().ToArray();
        await _runs.ApplyAsync(run.RunId, r => RunProgression.Apply(r, new MessagesSent(ending), DateTimeOffset.UtcNow));
        var finds = _store.Finds;

        // Its client reads it right after its end, page after page.
        for (var page = 0; page < 3; page++)
            Assert.Equal(RunState.Completed, (await _runs.ApplyAsync(run.RunId, _ => Step.Unchanged))!.Value.Run.State);
        var whileKept = _store.Finds - finds;
        _time.Advance(ActiveRuns.EndedKeptFor);
        await _runs.ApplyAsync(run.RunId, _ => Step.Unchanged);

        Assert.Single(ending);
        Assert.Equal(0, whileKept);
        Assert.Equal(1, _store.Finds - finds);
    }

    /// <summary>The real SQLite store, each write made slower so that events pile up behind it, as under load.</summary>
    sealed class SlowStore(SqliteRunStore inner) : IRunStore
    {
        public SqliteRunStore Inner => inner;

        public int Writes { get; private set; }

        public bool FailNextWrite { get; set; }

        public Task InitializeAsync(CancellationToken cancellationToken) => inner.InitializeAsync(cancellationToken);

        public Task<bool> CreateAsync(RunRecord run, CancellationToken cancellationToken) => inner.CreateAsync(run, cancellationToken);

        public int Finds { get; private set; }

        public Task<RunRecord?> FindAsync(Guid runId, CancellationToken cancellationToken)
        {
            Finds++;
            return inner.FindAsync(runId, cancellationToken);
        }

        public async Task UpdateAsync(RunRecord run, CancellationToken cancellationToken)
        {
            await Task.Delay(20, cancellationToken);
            if (FailNextWrite)
            {
                FailNextWrite = false;
                throw new IOException("disk full");
            }

            Writes++;
            await inner.UpdateAsync(run, cancellationToken);
        }

        public Task<IReadOnlyList<RunSummary>> ListAsync(int limit, string? flow, RunState? state, CancellationToken cancellationToken) =>
            inner.ListAsync(limit, flow, state, cancellationToken);

        public Task<IReadOnlyList<Guid>> ListUnfinishedAsync(CancellationToken cancellationToken) => inner.ListUnfinishedAsync(cancellationToken);
    }
}

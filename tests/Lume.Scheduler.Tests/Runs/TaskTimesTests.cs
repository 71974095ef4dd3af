using System.Text.Json;
using Lume.Contracts;
using Lume.Scheduler.Flows;
using Lume.Scheduler.Runs;
using Microsoft.Extensions.Options;

namespace Lume.Scheduler.Tests.Runs;

/// <summary>Which ready tasks travel together: only quick ones, a few milliseconds of expected work at most, spread over the live workers.</summary>
public sealed class TaskTimesTests
{
    readonly TimeProvider _time = TimeProvider.System;
    readonly WorkerDirectory _workers;
    readonly TaskTimes _times;

    public TaskTimesTests()
    {
        _workers = new WorkerDirectory(Options.Create(new SchedulerOptions()), _time);
        _times = new TaskTimes(_workers, _time);
    }

    static TaskReady[] Ready(string type, int count, string input = "1") =>
        Enumerable.Range(0, count).Select(i => new TaskReady(Guid.Empty, "flow", $"{type}-{i}", type, 1, Guid.NewGuid(),
            new Dictionary<string, JsonElement> { ["value"] = JsonDocument.Parse(input).RootElement }, DateTimeOffset.UnixEpoch)).ToArray();

    void Workers(int count)
    {
        for (var i = 0; i < count; i++)
            _workers.Heard($"w{i}", "default", _time.GetUtcNow(), []);
    }

    [Fact]
    public void ATypeNotSeenYet_TravelsAlone()
    {
        Workers(1);
        Assert.All(_times.Pack("default", Ready("identity", 50)), batch => Assert.Single(batch));
    }

    [Fact]
    public void QuickTasks_TravelTogether_SpreadSoEveryLiveWorkerGetsSeveralBatches()
    {
        Workers(4);
        _times.Record("default", "identity", TimeSpan.FromMilliseconds(0.05));

        var batches = _times.Pack("default", Ready("identity", 1000)).ToList();

        Assert.Equal(1000, batches.Sum(b => b.Count));
        Assert.All(batches, b => Assert.InRange(b.Count, 1, 1000 / 16));
        Assert.True(batches.Count >= 16, $"{batches.Count} batches");
    }

    [Fact]
    public void AFewQuickTasks_TravelInOneMessage_ThoughFourWorkersCouldShareThem()
    {
        // A layered flow's step releases a few quick tasks at a time; one message each cost ten times their work.
        Workers(4);
        _times.Record("default", "identity", TimeSpan.FromMilliseconds(0.05));

        var batches = _times.Pack("default", Ready("identity", 20)).ToList();

        Assert.Equal(20, Assert.Single(batches).Count);
    }

    [Fact]
    public void AFewTasksWithWorkWorthSharing_StillGoToSeveralWorkers()
    {
        Workers(4);
        _times.Record("default", "medium", TimeSpan.FromMilliseconds(0.5));

        var batches = _times.Pack("default", Ready("medium", 20)).ToList();

        // 10 ms of work in all: ten messages of about a millisecond each.
        Assert.Equal(20, batches.Sum(b => b.Count));
        Assert.InRange(batches.Count, 8, 12);
    }

    [Fact]
    public void ABatch_CarriesAtMostItsShareOfExpectedWork_AndASlowTypeTravelsAlone()
    {
        Workers(1);
        _times.Record("default", "medium", TimeSpan.FromMilliseconds(2));
        _times.Record("default", "slow", TimeSpan.FromMilliseconds(50));

        var medium = _times.Pack("default", Ready("medium", 100)).ToList();
        var slow = _times.Pack("default", Ready("slow", 100)).ToList();

        Assert.All(medium, b => Assert.InRange(b.Count, 1, (int)(TaskBatches.ExpectedWork.TotalMilliseconds / 2)));
        Assert.All(slow, b => Assert.Single(b));
    }

    [Fact]
    public void ATypeThatTurnsSlow_StopsTravellingInBatches_WithinAFewReports()
    {
        Workers(1);
        for (var i = 0; i < 20; i++)
            _times.Record("default", "identity", TimeSpan.FromMilliseconds(0.05));
        for (var i = 0; i < 5; i++)
            _times.Record("default", "identity", TimeSpan.FromMilliseconds(200));

        Assert.All(_times.Pack("default", Ready("identity", 100)), batch => Assert.Single(batch));
    }

    [Fact]
    public void OneReportThatABusyMachineDelayed_DoesNotStopAQuickTypesBatches()
    {
        Workers(1);
        for (var i = 0; i < 20; i++)
            _times.Record("default", "identity", TimeSpan.FromMilliseconds(0.05));
        _times.Record("default", "identity", TimeSpan.FromMilliseconds(300));

        Assert.Contains(_times.Pack("default", Ready("identity", 100)), batch => batch.Count > 10);
    }

    [Fact]
    public void LargeInputs_AreNotPackedPastTheBatchSize()
    {
        Workers(1);
        _times.Record("default", "identity", TimeSpan.FromMilliseconds(0.01));
        var large = JsonSerializer.Serialize(new string('x', 300_000));

        var batches = _times.Pack("default", Ready("identity", 20, large)).ToList();

        Assert.All(batches, b => Assert.True(b.Count * 300_000 <= TaskBatches.MaxBytes, $"{b.Count} inputs of 300 KB in one batch"));
    }
}

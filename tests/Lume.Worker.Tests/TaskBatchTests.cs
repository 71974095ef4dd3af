using System.Text.Json;
using Lume.Contracts;
using Lume.Scheduler;
using Lume.Tasks;
using Lume.Testing;

namespace Lume.Worker.Tests;

/// <summary>A TasksReady runs each of its tasks as if it had come alone, and one slow task holds none of the others back.</summary>
public sealed class TaskBatchTests : IAsyncLifetime
{
    LumeTestHost _host = null!;

    public async Task InitializeAsync() => _host = await LumeTestHost.StartAsync(builder =>
    {
        builder.AddLumeScheduler(); // the worker registers with it when it starts
        builder.AddLumeTaskWorker();
        builder.Services.AddLumeTask("sleep", async (int ms, CancellationToken cancellationToken) =>
        {
            await Task.Delay(ms, cancellationToken);
            return ms;
        });
        builder.Services.AddLumeTask("explode", string (string message) => throw new ArgumentException(message));
    }, new Dictionary<string, string?> { ["WORKER:NAME"] = "batch-worker", ["WORKER:CONCURRENCY"] = "1" });

    public async Task DisposeAsync() => await _host.DisposeAsync();

    static TaskReady Ready(Guid runId, string slug, string type, object inputs) =>
        new(runId, "flow", slug, type, 1, Guid.NewGuid(), JsonSerializer.SerializeToElement(inputs).EnumerateObject().ToDictionary(p => p.Name, p => p.Value),
            DateTimeOffset.UtcNow);

    [Fact]
    public async Task EveryTaskOfABatch_IsReportedWithItsOwnToken_AFailureAmongThem()
    {
        var runId = Guid.NewGuid();
        TaskReady[] tasks = [Ready(runId, "a", "sleep", new { ms = 1 }), Ready(runId, "b", "explode", new { message = "no" }), Ready(runId, "c", "sleep", new { ms = 2 })];

        await _host.Harness.Bus.Publish(new TasksReady(tasks));

        Assert.Equal(tasks[0].Token, (await _host.PublishedAsync<TaskCompleted>(c => c.TaskSlug == "a" && c.RunId == runId)).Token);
        Assert.Equal(tasks[2].Token, (await _host.PublishedAsync<TaskCompleted>(c => c.TaskSlug == "c" && c.RunId == runId)).Token);
        var failed = await _host.PublishedAsync<TaskFailed>(f => f.TaskSlug == "b" && f.RunId == runId);
        Assert.Equal((tasks[1].Token, "ArgumentException", false), (failed.Token, failed.ErrorType, failed.Retryable));
    }

    [Fact]
    public async Task TheReportsOfABatchOfQuickTasks_GoTogether_InOneMessage()
    {
        var runId = Guid.NewGuid();
        var tasks = Enumerable.Range(0, 20).Select(i => Ready(runId, $"t{i}", "sleep", new { ms = 0 })).ToArray();

        await _host.Harness.Bus.Publish(new TasksReady(tasks));

        foreach (var task in tasks)
            await _host.PublishedAsync<TaskCompleted>(c => c.TaskSlug == task.TaskSlug && c.RunId == runId);
        // Sent as each ended, the first would have gone alone: the Scheduler would then release what it unblocks in pieces.
        var messages = _host.Harness.Published.Select(_ => true).Select(m => m.MessageObject).OfType<TaskReports>()
            .Where(r => r.Completed.Any(c => c.RunId == runId)).ToList();
        Assert.Equal(tasks.Select(t => t.TaskSlug), Assert.Single(messages).Completed.Select(c => c.TaskSlug));
    }

    [Fact]
    public async Task ASlowTaskInABatch_DoesNotHoldTheOthersBack_EvenOnAWorkerWithOneSlot()
    {
        var runId = Guid.NewGuid();
        TaskReady[] tasks = [Ready(runId, "slow", "sleep", new { ms = 5000 }), Ready(runId, "quick-1", "sleep", new { ms = 1 }), Ready(runId, "quick-2", "sleep", new { ms = 1 })];

        await _host.Harness.Bus.Publish(new TasksReady(tasks));

        // Both quick ones end long before the slow one: they did not wait for it.
        var quick = await _host.PublishedAsync<TaskCompleted>(c => c.TaskSlug == "quick-2" && c.RunId == runId, TimeSpan.FromSeconds(4));
        var slow = await _host.PublishedAsync<TaskCompleted>(c => c.TaskSlug == "slow" && c.RunId == runId, TimeSpan.FromSeconds(15));
        Assert.True(slow.FinishedAt - quick.FinishedAt > TimeSpan.FromSeconds(3), $"quick-2 ended at {quick.FinishedAt:O}, slow at {slow.FinishedAt:O}");
    }

    [Fact]
    public async Task ABatchDeliveredAgain_RunsNone_AndClaimsEach()
    {
        var runId = Guid.NewGuid();
        TaskReady[] tasks = [Ready(runId, "a", "sleep", new { ms = 1 }) with { SentAgain = true }, Ready(runId, "b", "sleep", new { ms = 1 }) with { SentAgain = true }];

        await _host.Harness.Bus.Publish(new TasksReady(tasks));

        await _host.PublishedAsync<ClaimAttempt>(c => c.TaskSlug == "b" && c.RunId == runId);
        Assert.Equal(["a", "b"], _host.AllPublished<ClaimAttempt>(c => c.RunId == runId).Select(c => c.TaskSlug).Order());
        Assert.Empty(_host.AllPublished<TaskCompleted>(c => c.RunId == runId));
    }
}

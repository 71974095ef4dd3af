using System.Text.Json;
using Lume.Contracts;
using Lume.Scheduler;
using Lume.Tasks;
using Lume.Testing;

namespace Lume.Worker.Tests;

/// <summary>TaskStarted is reported for a task still running after LUME_WORKER__REPORT_STARTED_AFTER_MS, and only then.</summary>
public sealed class StartReportTests
{
    static async Task<LumeTestHost> StartAsync(int reportAfterMs) => await LumeTestHost.StartAsync(builder =>
    {
        builder.AddLumeScheduler();
        builder.AddLumeTaskWorker();
        builder.Services.AddLumeTask("quick", (int value) => value);
        builder.Services.AddLumeTask("nap", async (int ms, CancellationToken cancellationToken) =>
        {
            await Task.Delay(ms, cancellationToken);
            return ms;
        });
    }, new Dictionary<string, string?> { ["WORKER:NAME"] = "reporter", ["WORKER:REPORT_STARTED_AFTER_MS"] = reportAfterMs.ToString(System.Globalization.CultureInfo.InvariantCulture) });

    static async Task<Guid> ReadyAsync(LumeTestHost host, string type, string input, int value)
    {
        var runId = Guid.NewGuid();
        await host.Harness.Bus.Publish(new TaskReady(runId, "flow", "the_task", type, 1, Guid.NewGuid(),
            new Dictionary<string, JsonElement> { [input] = JsonSerializer.SerializeToElement(value) }, DateTimeOffset.UtcNow));
        return runId;
    }

    [Fact]
    public async Task QuickTask_ReportsOnlyItsEnd()
    {
        await using var host = await StartAsync(reportAfterMs: 2000);
        var runId = await ReadyAsync(host, "quick", "value", 7);

        var completed = await host.PublishedAsync<TaskCompleted>(m => m.RunId == runId);

        Assert.Equal(7, completed.Result.GetInt32());
        Assert.Empty(host.AllPublished<TaskStarted>(m => m.RunId == runId));
    }

    [Fact]
    public async Task TaskStillRunningAfterTheDelay_IsReportedStarted_BeforeItsEnd()
    {
        await using var host = await StartAsync(reportAfterMs: 100);
        var runId = await ReadyAsync(host, "nap", "ms", 1500);

        var started = await host.PublishedAsync<TaskStarted>(m => m.RunId == runId);
        var completed = await host.PublishedAsync<TaskCompleted>(m => m.RunId == runId);

        Assert.Equal(("reporter", 1), (started.Worker, started.Attempt));
        Assert.Equal(completed.StartedAt, started.StartedAt);
        // The report goes out while the task runs: its publish is awaited before the task's end is.
        Assert.Equal(["TaskStarted", "TaskCompleted"], host.Harness.Published.Select(_ => true)
            .SelectMany(m => m.MessageObject is TaskReports reports ? reports.Completed : (IEnumerable<object>)[m.MessageObject])
            .Where(m => m is TaskStarted s && s.RunId == runId || m is TaskCompleted c && c.RunId == runId)
            .Select(m => m.GetType().Name));
    }

    [Fact]
    public async Task WithZero_EveryTaskIsReportedStarted()
    {
        await using var host = await StartAsync(reportAfterMs: 0);
        var runId = await ReadyAsync(host, "quick", "value", 1);

        var started = await host.PublishedAsync<TaskStarted>(m => m.RunId == runId);
        var completed = await host.PublishedAsync<TaskCompleted>(m => m.RunId == runId);

        Assert.Equal(completed.StartedAt, started.StartedAt);
    }
}

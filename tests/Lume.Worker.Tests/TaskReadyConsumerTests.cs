using Lume.Contracts;
using Lume.Flows;
using Lume.Hosting;
using Lume.Scheduler;
using Lume.Tasks;
using Lume.Testing;
using System.Text.Json;

namespace Lume.Worker.Tests;

public sealed class TaskReadyConsumerTests : IAsyncLifetime
{
    LumeTestHost _host = null!;

    public async Task InitializeAsync() => _host = await LumeTestHost.StartAsync(builder =>
    {
        builder.AddLumeScheduler(); // the worker registers with it when it starts
        builder.AddLumeTaskWorker();
        builder.Services.AddLumeTask("append_text", (string text1, string text2) => text1 + text2);
        builder.Services.AddLumeTask("explode", string (string message) => throw new ArgumentException(message));
        builder.Services.AddLumeTask("flaky_io", string (string message) => throw new IOException(message));
        builder.Services.AddLumeTask("sleep", async (int ms, CancellationToken cancellationToken) =>
        {
            await Task.Delay(ms, cancellationToken);
            return ms;
        });
        builder.Services.AddLumeTask("huge", (int length) => new string('x', length));
        builder.Services.AddLumeTask("unsendable", (string kind) => kind switch
        {
            "nan" => (object)new { x = double.NaN },
            _ => Enumerable.Range(0, 40).Aggregate((object)1, (inner, _) => new[] { inner }),
        });
    }, new Dictionary<string, string?> { ["WORKER:NAME"] = "worker-under-test" });

    public async Task DisposeAsync() => await _host.DisposeAsync();

    async Task<Guid> ReadyAsync(string type, object inputs, double? timeoutSeconds = null, Guid? runId = null, Guid? token = null)
    {
        var id = runId ?? Guid.NewGuid();
        var values = JsonSerializer.SerializeToElement(inputs).EnumerateObject().ToDictionary(p => p.Name, p => p.Value);
        await _host.Harness.Bus.Publish(new TaskReady(id, "flow", "the_task", type, 1, token ?? Guid.NewGuid(), values, DateTimeOffset.UtcNow, timeoutSeconds));
        return id;
    }

    // Polled, for messages that come after the bus has been quiet for a while (a task sleeping): the harness's own
    // waits end when it sees no activity.
    async Task<T> QuietlyPublishedAsync<T>(Func<T, bool> match)
        where T : class
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (_host.AllPublished(match).Count == 0 && DateTime.UtcNow < deadline)
            await Task.Delay(50);
        return Assert.Single(_host.AllPublished(match));
    }

    [Fact]
    public async Task Reports_CarryTheAttemptsToken()
    {
        var token = Guid.NewGuid();
        var runId = await ReadyAsync("append_text", new { text1 = "a", text2 = "b" }, token: token);

        Assert.Equal(token, (await _host.PublishedAsync<TaskCompleted>(m => m.RunId == runId)).Token);
    }

    [Fact]
    public async Task AnErrorThatMayBeTransient_IsRetryable()
    {
        var runId = await ReadyAsync("flaky_io", new { message = "disk busy" });

        var failed = await _host.PublishedAsync<TaskFailed>(m => m.RunId == runId);

        Assert.Equal("IOException", failed.ErrorType);
        Assert.True(failed.Retryable);
    }

    [Fact]
    public async Task AnAttemptPastItsTimeout_IsCancelledAndReportedTimedOut_AfterItsStartWasReported()
    {
        var runId = await ReadyAsync("sleep", new { ms = 30_000 }, timeoutSeconds: 0.3);

        var failed = await QuietlyPublishedAsync<TaskFailed>(m => m.RunId == runId);

        Assert.Equal(TaskErrors.TimedOut, failed.ErrorType);
        Assert.True(failed.Retryable);
        Assert.Single(_host.AllPublished<TaskStarted>(m => m.RunId == runId)); // reported at once, for the Scheduler's own watch
    }

    [Fact]
    public async Task RunCancelled_StopsTheRunsRunningTask_AndItsQueuedTasksNeverStart()
    {
        var runId = await ReadyAsync("sleep", new { ms = 30_000 });
        await _host.PublishedAsync<TaskStarted>(m => m.RunId == runId, TimeSpan.FromSeconds(10));

        await _host.Harness.Bus.Publish(new RunCancelled(runId, "flow", "stop", DateTimeOffset.UtcNow));
        await _host.Harness.Consumed.Any<RunCancelled>(m => m.Context.Message.RunId == runId);
        await ReadyAsync("append_text", new { text1 = "never", text2 = "run" }, runId: runId);
        await _host.Harness.InactivityTask.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Empty(_host.AllPublished<TaskCompleted>(m => m.RunId == runId));
        Assert.Empty(_host.AllPublished<TaskFailed>(m => m.RunId == runId)); // the run has ended: nothing to report
    }

    [Fact]
    public async Task AResultOverTheLimit_FailsTheTask_SayingWhatToDo()
    {
        var runId = await ReadyAsync("huge", new { length = TaskLimits.MaxResultBytes + 10 });

        var failed = await _host.PublishedAsync<TaskFailed>(m => m.RunId == runId);

        Assert.Equal(TaskErrors.ResultTooLarge, failed.ErrorType);
        Assert.Contains("save_file", failed.Message, StringComparison.Ordinal);
        Assert.False(failed.Retryable);
    }

    [Theory]
    [InlineData("nan", "is not JSON")]
    [InlineData("deep", "nested more than 32")]
    public async Task AResultThatCannotTravelAsJson_FailsTheTask_AsInvalidResult(string kind, string named)
    {
        var runId = await ReadyAsync("unsendable", new { kind });

        var failed = await _host.PublishedAsync<TaskFailed>(m => m.RunId == runId);

        Assert.Equal(TaskRegistry.InvalidResult, failed.ErrorType);
        Assert.Contains(named, failed.Message, StringComparison.Ordinal);
        Assert.False(failed.Retryable);
    }

    [Fact]
    public async Task TaskReady_RunsTheTask_AndReportsCompletedWithTheResult()
    {
        var runId = await ReadyAsync("append_text", new { text1 = "Hello", text2 = "World" });

        var completed = await _host.PublishedAsync<TaskCompleted>(m => m.RunId == runId);

        Assert.Equal("worker-under-test", completed.Worker);
        Assert.Equal("HelloWorld", completed.Result.GetString());
        Assert.Equal("the_task", completed.TaskSlug);
        Assert.Equal(1, completed.Attempt);
        Assert.True(completed.FinishedAt >= completed.StartedAt);
    }

    [Fact]
    public async Task TaskThatThrows_IsReportedFailedWithItsErrorTypeAndMessage()
    {
        var runId = await ReadyAsync("explode", new { message = "no good" });

        var failed = await _host.PublishedAsync<TaskFailed>(m => m.RunId == runId);

        Assert.Equal("ArgumentException", failed.ErrorType);
        Assert.Equal("no good", failed.Message);
        Assert.False(failed.Retryable);
        Assert.Empty(_host.AllPublished<TaskCompleted>(m => m.RunId == runId));
    }

    [Fact]
    public async Task UnknownTaskType_IsReportedFailed()
    {
        var runId = await ReadyAsync("no_such_task", new { });

        var failed = await _host.PublishedAsync<TaskFailed>(m => m.RunId == runId);

        Assert.Equal("UnknownTaskType", failed.ErrorType);
        Assert.Contains("append_text", failed.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_WithAFlowUsingATaskTypeNoOneOffers_Fails()
    {
        var flow = Flow.Define("needs_more", f => f.Task("missing_type"));

        var error = await Assert.ThrowsAsync<FlowDefinitionException>(() => LumeTestHost.StartAsync(builder =>
        {
            builder.AddLumeTaskWorker();
            builder.Services.AddLumeFlow(flow);
        }));

        Assert.Contains("unknown task type 'missing_type'", Assert.Single(error.Problems), StringComparison.Ordinal);
    }
}

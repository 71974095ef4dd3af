using Lume.Contracts;
using Lume.Flows;
using Lume.Hosting;
using Lume.Scheduler;
using Lume.Tasks;
using Lume.Testing;
using System.Text.Json;

namespace Lume.TaskWorker.Tests;

public sealed class TaskReadyConsumerTests : IAsyncLifetime
{
    LumeTestHost _host = null!;

    public async Task InitializeAsync() => _host = await LumeTestHost.StartAsync(builder =>
    {
        builder.AddLumeScheduler(); // the worker registers with it when it starts
        builder.AddLumeTaskWorker();
        builder.Services.AddLumeTask("append_text", (string text1, string text2) => text1 + text2);
        builder.Services.AddLumeTask("explode", string (string message) => throw new ArgumentException(message));
    }, new Dictionary<string, string?> { ["WORKER:NAME"] = "worker-under-test" });

    public async Task DisposeAsync() => await _host.DisposeAsync();

    async Task<Guid> ReadyAsync(string type, object inputs)
    {
        var runId = Guid.NewGuid();
        var values = JsonSerializer.SerializeToElement(inputs).EnumerateObject().ToDictionary(p => p.Name, p => p.Value);
        await _host.Harness.Bus.Publish(new TaskReady(runId, "flow", "the_task", type, 1, values, DateTimeOffset.UtcNow));
        return runId;
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

using System.Diagnostics;
using System.Text.Json;
using Lume.Contracts;
using MassTransit;

namespace Lume.Cli;

/// <summary>What a client sees of a run as it goes.</summary>
public interface IRunObserver
{
    void TaskStarted(TaskStarted message) { }

    void TaskCompleted(TaskCompleted message) { }

    void TaskFailed(TaskFailed message) { }
}

/// <summary>How a run ended, with its stored state (null when it was rejected).</summary>
public sealed record RunOutcome(Guid RunId, string Flow, RunFailed? Failure, RunSnapshot? Snapshot, TimeSpan Elapsed)
{
    public bool Rejected => Failure?.Kind == RunFailureKind.Rejected;

    public bool Succeeded => Failure is null;
}

/// <summary>Submits runs over the bus and follows them to the end, like any client that references Lume.Contracts.</summary>
public sealed class RunClient(IBus bus, IClientFactory clients, TimeProvider time)
{
    /// <summary>Publishes RunRequested and waits for RunCompleted or RunFailed, reporting task events on the way.</summary>
    public async Task<RunOutcome> RunAsync(
        string flow, IReadOnlyDictionary<string, JsonElement> parameters, IRunObserver? observer = null, CancellationToken cancellationToken = default)
    {
        var runId = NewId.NextGuid();
        var ended = new TaskCompletionSource<RunFailed?>(TaskCreationOptions.RunContinuationsAsynchronously);
        observer ??= new NoObserver();

        // Listen before publishing, so not even the first event of the run can be missed.
        var handle = bus.ConnectReceiveEndpoint(new TemporaryEndpointDefinition(), KebabCaseEndpointNameFormatter.Instance, e =>
        {
            e.Handler<TaskStarted>(c => Observe(c.Message.RunId, () => observer.TaskStarted(c.Message)));
            e.Handler<TaskCompleted>(c => Observe(c.Message.RunId, () => observer.TaskCompleted(c.Message)));
            e.Handler<TaskFailed>(c => Observe(c.Message.RunId, () => observer.TaskFailed(c.Message)));
            e.Handler<RunCompleted>(c => Observe(c.Message.RunId, () => ended.TrySetResult(null)));
            e.Handler<RunFailed>(c => Observe(c.Message.RunId, () => ended.TrySetResult(c.Message)));
        });
        try
        {
            await handle.Ready.WaitAsync(cancellationToken);
            var clock = Stopwatch.StartNew();
            await bus.Publish(new RunRequested(runId, flow, null, parameters, time.GetUtcNow()), cancellationToken);
            var failure = await ended.Task.WaitAsync(cancellationToken);
            clock.Stop();
            var snapshot = failure?.Kind == RunFailureKind.Rejected ? null : await GetAsync(runId, cancellationToken);
            return new RunOutcome(runId, flow, failure, snapshot, clock.Elapsed);
        }
        finally
        {
            await handle.StopAsync(CancellationToken.None);
        }

        Task Observe(Guid id, Action report)
        {
            if (id == runId)
                report();
            return Task.CompletedTask;
        }
    }

    /// <summary>The stored state of a run, or null when the Scheduler does not know it.</summary>
    public async Task<RunSnapshot?> GetAsync(Guid runId, CancellationToken cancellationToken = default)
    {
        var response = await clients.CreateRequestClient<GetRun>().GetResponse<RunSnapshot, RunNotFound>(new GetRun(runId), cancellationToken);
        return response.Is(out Response<RunSnapshot>? found) ? found.Message : null;
    }

    sealed class NoObserver : IRunObserver;
}

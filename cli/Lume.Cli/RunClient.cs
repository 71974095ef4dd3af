using System.Diagnostics;
using System.Text.Json;
using Lume.Contracts;
using Lume.Hosting;
using MassTransit;

namespace Lume.Cli;

/// <summary>What a client sees of a run as it goes.</summary>
public interface IRunObserver
{
    void TaskStarted(TaskStarted message) { }

    void TaskCompleted(TaskCompleted message) { }

    void TaskFailed(TaskFailed message) { }
}

/// <summary>How a run ended (or, when not waited for, that it was accepted), with its stored state; no state when rejected.</summary>
public sealed record RunOutcome(Guid RunId, string Flow, RunFailed? Failure, RunSnapshot? Snapshot, TimeSpan Elapsed)
{
    public bool Rejected => Failure?.Kind == RunFailureKind.Rejected;

    public bool Succeeded => Failure is null;
}

/// <summary>A service could not handle a request, or none answered.</summary>
public sealed class LumeServiceException(string message) : Exception(message);

/// <summary>Submits runs over the bus and follows them, like any client that references Lume.Contracts.</summary>
public sealed class RunClient(IBus bus, IClientFactory clients, TimeProvider time)
{
    /// <summary>How long to wait for the Scheduler to accept or reject a run before saying it does not answer.</summary>
    public static readonly TimeSpan AcceptTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Publishes RunRequested and waits for RunCompleted or RunFailed, reporting task events to <paramref name="observer"/>, if any, on the way; with
    /// <paramref name="wait"/> off, only until the Scheduler accepts or rejects the run.
    /// </summary>
    public async Task<RunOutcome> RunAsync(
        string flow,
        string? version,
        IReadOnlyDictionary<string, JsonElement> parameters,
        IRunObserver? observer = null,
        bool wait = true,
        CancellationToken cancellationToken = default)
    {
        var runId = NewId.NextGuid();
        // The root of the run's trace: everything the services do for the run descends from this span.
        using var activity = LumeTelemetry.Source.StartActivity($"run request {flow}", ActivityKind.Producer);
        activity?.SetTag("lume.run_id", runId.ToString());
        activity?.SetTag("lume.flow", flow);
        var accepted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var ended = new TaskCompletionSource<RunFailed?>(TaskCreationOptions.RunContinuationsAsynchronously);

        // Listen before publishing, so not even the first event of the run can be missed.
        var handle = bus.ConnectReceiveEndpoint(new TemporaryEndpointDefinition(), KebabCaseEndpointNameFormatter.Instance, e =>
        {
            e.Handler<RunAccepted>(c => Observe(c.Message.RunId, () => accepted.TrySetResult()));
            // Task events are bound only for an observer: a client queue that takes them takes every task event of every
            // run on the broker, which doubles the broker's work per task for a client that only waits for the end.
            if (observer is not null)
            {
                e.Handler<TaskStarted>(c => Observe(c.Message.RunId, () => observer.TaskStarted(c.Message)));
                e.Handler<TaskCompleted>(c => Observe(c.Message.RunId, () => observer.TaskCompleted(c.Message)));
                e.Handler<TaskFailed>(c => Observe(c.Message.RunId, () => observer.TaskFailed(c.Message)));
            }
            e.Handler<RunCompleted>(c => Observe(c.Message.RunId, () => ended.TrySetResult(null)));
            e.Handler<RunFailed>(c => Observe(c.Message.RunId, () => ended.TrySetResult(c.Message)));
            e.Handler<Fault<RunRequested>>(c => Observe(c.Message.Message.RunId, () => ended.TrySetException(new LumeServiceException(
                $"the Scheduler could not handle the run request: {string.Join("; ", c.Message.Exceptions.Select(x => $"{x.ExceptionType}: {x.Message}"))}"))));
        });
        try
        {
            await handle.Ready.WaitAsync(cancellationToken);
            var clock = Stopwatch.StartNew();
            await bus.Publish(new RunRequested(runId, flow, version, parameters, time.GetUtcNow()), cancellationToken);
            var first = await Task.WhenAny(accepted.Task, ended.Task, Task.Delay(AcceptTimeout, time, cancellationToken));
            cancellationToken.ThrowIfCancellationRequested();
            if (!accepted.Task.IsCompleted && !ended.Task.IsCompleted)
                throw new LumeServiceException($"no Scheduler answered the run request within {AcceptTimeout.TotalSeconds:0} s; is it running, on the broker LUME_BROKER names?");
            if (!wait && first == accepted.Task)
                return new RunOutcome(runId, flow, null, null, clock.Elapsed);
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
        return response.Message as RunSnapshot;
    }

    /// <summary>The most recent runs, newest first.</summary>
    public async Task<IReadOnlyList<RunListEntry>> ListAsync(int limit, CancellationToken cancellationToken = default) =>
        (await clients.CreateRequestClient<ListRuns>().GetResponse<RunList>(new ListRuns(limit), cancellationToken)).Message.Runs;

    /// <summary>The flows the Scheduler serves.</summary>
    public async Task<IReadOnlyList<FlowInfo>> FlowsAsync(CancellationToken cancellationToken = default) =>
        (await clients.CreateRequestClient<ListFlows>().GetResponse<FlowList>(new ListFlows(false), cancellationToken)).Message.Flows;
}

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
public sealed record RunOutcome(Guid RunId, string Flow, RunFailed? Failure, RunSnapshot? Snapshot, TimeSpan Elapsed, RunCancelled? Cancellation = null)
{
    public bool Rejected => Failure?.Kind == RunFailureKind.Rejected;

    public bool Succeeded => Failure is null && Cancellation is null;
}

/// <summary>The wait for a run was interrupted (Ctrl+C); the run was cancelled, unless the caller asked to leave it going.</summary>
public sealed class RunInterruptedException(Guid runId, bool cancelled, CancellationToken token)
    : OperationCanceledException($"the wait for run {runId} was interrupted", token)
{
    public Guid RunId { get; } = runId;

    public bool Cancelled { get; } = cancelled;
}

/// <summary>A service could not handle a request, or none answered.</summary>
public class LumeServiceException(string message) : Exception(message);

/// <summary>The client stopped waiting for a run the Scheduler accepted, because the Scheduler stopped answering; the run itself may go on.</summary>
public sealed class RunWaitAbandonedException(Guid runId, string message) : LumeServiceException(message)
{
    public Guid RunId { get; } = runId;
}

/// <summary>Submits runs over the bus and follows them, like any client that references Lume.Contracts.</summary>
/// <param name="inProcess">Embedded: the workers' reports go to the Scheduler directly, not over the bus, and are watched there.</param>
/// <param name="events">The process's one queue of run events: what this client hears of the runs it waits for.</param>
public sealed class RunClient(IBus bus, IClientFactory clients, RunEvents events, TimeProvider time, InProcessTasks? inProcess = null)
{
    /// <summary>How long to wait for the Scheduler to accept or reject a run before asking for it, then saying it does not answer.</summary>
    public static readonly TimeSpan AcceptTimeout = TimeSpan.FromSeconds(30);

    /// <summary>How long to wait for the bus to be ready to listen (a broker that is down or not AMQP never gets there).</summary>
    public static readonly TimeSpan ConnectTimeout = RunEvents.ConnectTimeout;

    /// <summary>While a run goes on, how often to ask for it when no end was heard: an end message lost in a crash is not waited for forever.</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(5);

    /// <summary>How long the Scheduler may leave every question unanswered before the wait ends (the run itself may go on).</summary>
    public static readonly TimeSpan SchedulerSilence = TimeSpan.FromSeconds(60);

    /// <summary>How long a cancellation on Ctrl+C may take before the client gives up waiting for the answer.</summary>
    public static readonly TimeSpan CancelTimeout = TimeSpan.FromSeconds(1.5);

    /// <summary>
    /// Publishes RunRequested and waits for the run's end, reporting task events to <paramref name="observer"/>, if any, on the way; with
    /// <paramref name="wait"/> off, only until the Scheduler accepts or rejects the run. When <paramref name="cancellationToken"/> fires
    /// (Ctrl+C), the run is cancelled too, unless <paramref name="cancelOnInterrupt"/> is off.
    /// </summary>
    /// <param name="timeoutSeconds">The run's timeout: the Scheduler cancels it if it has not ended by then.</param>
    /// <param name="noCache">Read no cached task result: every task runs (fresh results are still kept).</param>
    /// <param name="approve">Tasks (trigger manual_only) to approve as soon as they wait for it: an embedded run has nobody else to.</param>
    public async Task<RunOutcome> RunAsync(
        string flow,
        string? version,
        IReadOnlyDictionary<string, JsonElement> parameters,
        IRunObserver? observer = null,
        bool wait = true,
        CancellationToken cancellationToken = default,
        double? timeoutSeconds = null,
        bool cancelOnInterrupt = true,
        bool noCache = false,
        IReadOnlyCollection<string>? approve = null)
    {
        var runId = NewId.NextGuid();
        // The root of the run's trace: everything the services do for the run descends from this span.
        using var activity = LumeTelemetry.Source.StartActivity($"run request {flow}", ActivityKind.Producer);
        activity?.SetTag("lume.run_id", runId.ToString());
        activity?.SetTag("lume.flow", flow);
        var accepted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var ended = new TaskCompletionSource<object>(TaskCreationOptions.RunContinuationsAsynchronously);
        // Watched before the request goes, so not even the first event of the run can be missed.
        using var watching = events.Watch(runId, message =>
        {
            switch (message)
            {
                case RunAccepted:
                    accepted.TrySetResult();
                    break;
                case RunProgressed:
                    // For watchers that show a run as it goes (the web view); this one waits for the end.
                    break;
                case Fault<RunRequested> fault:
                    ended.TrySetException(new LumeServiceException(
                        $"the Scheduler could not handle the run request: {string.Join("; ", fault.Exceptions.Select(x => $"{x.ExceptionType}: {x.Message}"))}"));
                    break;
                default: // its end: RunCompleted, RunFailed or RunCancelled
                    ended.TrySetResult(message);
                    break;
            }
        });
        // Task events are bound only for an observer, on a queue of the run's own: a client queue that takes them takes
        // every task event of every run on the broker, which doubles the broker's work per task for a client that only
        // waits for the end.
        var taskEvents = observer is null ? null : bus.ConnectReceiveEndpoint(new TemporaryEndpointDefinition(), KebabCaseEndpointNameFormatter.Instance, e =>
        {
            e.Handler<TaskStarted>(c => Observe(c.Message.RunId, () => observer.TaskStarted(c.Message)));
            e.Handler<TaskCompleted>(c => Observe(c.Message.RunId, () => observer.TaskCompleted(c.Message)));
            e.Handler<TaskFailed>(c => Observe(c.Message.RunId, () => observer.TaskFailed(c.Message)));
            // Reports a worker sent together: each is shown as if it had come alone.
            e.Handler<TaskReports>(c =>
            {
                foreach (var completed in c.Message.Completed ?? [])
                    Observe(completed.RunId, () => observer.TaskCompleted(completed));
                foreach (var failed in c.Message.Failed ?? [])
                    Observe(failed.RunId, () => observer.TaskFailed(failed));
                return Task.CompletedTask;
            });
        });
        using var watchingReports = observer is null ? null : inProcess?.Watch(runId, report =>
        {
            if (report is TaskCompleted completed)
                observer.TaskCompleted(completed);
            else if (report is TaskFailed failed)
                observer.TaskFailed(failed);
        });
        var requested = false;
        try
        {
            try
            {
                await events.ListenAsync(cancellationToken);
                if (taskEvents is not null)
                    await taskEvents.Ready.WaitAsync(ConnectTimeout, time, cancellationToken);
            }
            catch (TimeoutException)
            {
                throw new LumeServiceException($"could not reach the broker within {ConnectTimeout.TotalSeconds:0} s; is it running, at the address LUME_BROKER names?");
            }

            var clock = Stopwatch.StartNew();
            await bus.Publish(new RunRequested(runId, flow, version, parameters, time.GetUtcNow(), timeoutSeconds, noCache), cancellationToken);
            requested = true;
            await Task.WhenAny(accepted.Task, ended.Task, Task.Delay(AcceptTimeout, time, cancellationToken));
            cancellationToken.ThrowIfCancellationRequested();
            RunSnapshot? snapshot = null;
            if (!accepted.Task.IsCompleted && !ended.Task.IsCompleted)
            {
                // Stored but unannounced (a Scheduler that crashed in between and came back): the run is there, and goes on.
                snapshot = await TryGetAsync(runId, cancellationToken, stateOnly: true) ?? throw new LumeServiceException(
                    $"no Scheduler answered the run request within {AcceptTimeout.TotalSeconds:0} s; is it running, on the broker LUME_BROKER names?");
            }

            if (!wait && !ended.Task.IsCompleted)
                return new RunOutcome(runId, flow, null, null, clock.Elapsed);
            using var approving = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var approvals = approve is { Count: > 0 } ? ApproveWhenPausedAsync(runId, approve, ended.Task, approving.Token) : Task.CompletedTask;
            var end = await WaitForEndAsync(runId, ended.Task, cancellationToken);
            await approving.CancelAsync();
            await approvals.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            clock.Stop();
            if (end is RunFailed { Kind: RunFailureKind.Rejected } rejected)
                return new RunOutcome(runId, flow, rejected, null, clock.Elapsed);
            snapshot = end is RunSnapshot stored ? stored : await GetPatientlyAsync(runId, cancellationToken);
            return new RunOutcome(runId, flow, end as RunFailed ?? FailureOf(snapshot), snapshot, clock.Elapsed, end as RunCancelled ?? CancellationOf(snapshot));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested && requested && !ended.Task.IsCompleted)
        {
            // Interrupted: the run goes with the command, so nothing is left running that nobody waits for.
            if (cancelOnInterrupt)
                await TryCancelAsync(runId, "interrupted: the client that started it was stopped (Ctrl+C)");
            throw new RunInterruptedException(runId, cancelOnInterrupt, cancellationToken);
        }
        finally
        {
            if (taskEvents is not null)
                await taskEvents.StopAsync(CancellationToken.None);
        }

        Task Observe(Guid id, Action report)
        {
            if (id == runId)
                report();
            return Task.CompletedTask;
        }
    }

    // Approves each task as soon as it waits for approval: until then the Scheduler says it is not waiting, and it is asked again.
    async Task ApproveWhenPausedAsync(Guid runId, IReadOnlyCollection<string> tasks, Task ended, CancellationToken cancellationToken)
    {
        var left = new HashSet<string>(tasks, StringComparer.Ordinal);
        while (left.Count > 0 && !ended.IsCompleted)
        {
            foreach (var slug in left.ToArray())
                if (await ApproveAsync(runId, slug, cancellationToken) is { Approved: true })
                    left.Remove(slug);
            await Task.WhenAny(ended, Task.Delay(TimeSpan.FromMilliseconds(250), time, cancellationToken));
        }
    }

    // The end as heard (RunCompleted, RunFailed, RunCancelled), or the run's final state as asked for when no end came.
    async Task<object> WaitForEndAsync(Guid runId, Task<object> ended, CancellationToken cancellationToken)
    {
        var lastAnswer = time.GetUtcNow();
        while (true)
        {
            await Task.WhenAny(ended, Task.Delay(PollInterval, time, cancellationToken));
            cancellationToken.ThrowIfCancellationRequested();
            if (ended.IsCompleted)
                return await ended;
            // Only whether it has ended: the whole state of a wide run is asked for once, at its end.
            var state = await TryGetAsync(runId, cancellationToken, stateOnly: true);
            if (state is not null)
            {
                lastAnswer = time.GetUtcNow();
                if (state.State != RunState.Running)
                    return await Task.WhenAny(ended, Task.Delay(TimeSpan.FromMilliseconds(200), time, cancellationToken)) == ended
                        ? await ended
                        : await GetPatientlyAsync(runId, cancellationToken);
            }
            else if (time.GetUtcNow() - lastAnswer > SchedulerSilence)
                throw new RunWaitAbandonedException(runId,
                    $"the Scheduler has not answered for {SchedulerSilence.TotalSeconds:0} s; run {runId} may still go on (see lume runs show {runId})");
        }
    }

    static RunFailed? FailureOf(RunSnapshot? snapshot) => snapshot is { State: RunState.Failed }
        ? new RunFailed(snapshot.RunId, snapshot.Flow, snapshot.FailedTask is null ? RunFailureKind.Interrupted : RunFailureKind.TaskFailed,
            snapshot.FailedTask, "FlowFailed", $"run {snapshot.RunId} of flow '{snapshot.Flow}' failed: {snapshot.Error}", [], snapshot.FinishedAt ?? default)
        : null;

    static RunCancelled? CancellationOf(RunSnapshot? snapshot) => snapshot is { State: RunState.Cancelled }
        ? new RunCancelled(snapshot.RunId, snapshot.Flow, snapshot.Error ?? "cancelled", snapshot.FinishedAt ?? default)
        : null;

    /// <summary>The stored state of a run, or null when the Scheduler does not know it.</summary>
    public Task<RunSnapshot?> GetAsync(Guid runId, CancellationToken cancellationToken = default) =>
        clients.CreateRequestClient<GetRun>().ReadRunAsync(runId, cancellationToken);

    // The run's state once it has ended, asked again while the Scheduler or the broker is briefly away (a restart).
    async Task<RunSnapshot> GetPatientlyAsync(Guid runId, CancellationToken cancellationToken)
    {
        var since = time.GetUtcNow();
        while (true)
        {
            if (await TryGetAsync(runId, cancellationToken) is { } snapshot)
                return snapshot;
            if (time.GetUtcNow() - since > SchedulerSilence)
                throw new RunWaitAbandonedException(runId,
                    $"run {runId} ended, but the Scheduler has not answered for its state for {SchedulerSilence.TotalSeconds:0} s (see lume runs show {runId})");
            await Task.Delay(TimeSpan.FromSeconds(1), time, cancellationToken);
        }
    }

    async Task<RunSnapshot?> TryGetAsync(Guid runId, CancellationToken cancellationToken, bool stateOnly = false)
    {
        try
        {
            var client = clients.CreateRequestClient<GetRun>(RequestTimeout.After(s: 5));
            return stateOnly
                ? (await client.GetResponse<RunSnapshot, RunNotFound>(new GetRun(runId, StateOnly: true), cancellationToken)).Message as RunSnapshot
                : await client.ReadRunAsync(runId, cancellationToken);
        }
        catch (RequestTimeoutException)
        {
            return null;
        }
    }

    /// <summary>Cancels a run: its state afterwards (cancelled, or how it had already ended), or null when the Scheduler does not know it.</summary>
    public async Task<RunSnapshot?> CancelAsync(Guid runId, string reason, CancellationToken cancellationToken = default)
    {
        var response = await clients.CreateRequestClient<CancelRun>().GetResponse<RunSnapshot, RunNotFound>(new CancelRun(runId, reason), cancellationToken);
        return response.Message as RunSnapshot;
    }

    /// <summary>Approves a task that waits for approval: whether it was released and why not, or null when the Scheduler does not know the run.</summary>
    public async Task<TaskApproval?> ApproveAsync(Guid runId, string taskSlug, CancellationToken cancellationToken = default)
    {
        var response = await clients.CreateRequestClient<ApproveTask>().GetResponse<TaskApproval, RunNotFound>(new ApproveTask(runId, taskSlug), cancellationToken);
        return response.Message as TaskApproval;
    }

    async Task TryCancelAsync(Guid runId, string reason)
    {
        try
        {
            var client = clients.CreateRequestClient<CancelRun>(RequestTimeout.After(ms: (int)CancelTimeout.TotalMilliseconds));
            await client.GetResponse<RunSnapshot, RunNotFound>(new CancelRun(runId, reason));
        }
        catch (RequestTimeoutException)
        {
            Console.Error.WriteLine($"warning: could not confirm that run {runId} was cancelled; see lume runs show {runId}");
        }
    }

    /// <summary>The most recent runs, newest first.</summary>
    public async Task<IReadOnlyList<RunListEntry>> ListAsync(int limit, CancellationToken cancellationToken = default) =>
        (await clients.CreateRequestClient<ListRuns>().GetResponse<RunList>(new ListRuns(limit), cancellationToken)).Message.Runs;

    /// <summary>The flows the Scheduler serves.</summary>
    public async Task<IReadOnlyList<FlowInfo>> FlowsAsync(CancellationToken cancellationToken = default) =>
        (await clients.CreateRequestClient<ListFlows>().GetResponse<FlowList>(new ListFlows(false), cancellationToken)).Message.Flows;
}

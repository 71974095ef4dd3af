using System.Runtime.InteropServices;
using System.Text.Json;
using Lume.Contracts;
using Lume.Flows;

namespace Lume.Scheduler.Runs;

/// <summary>
/// What an event did to a run: whether it changed (and must be stored), the messages to send once it is stored,
/// why the event was dropped if it was, and the earliest timer it set.
/// </summary>
public sealed record Step(bool Changed, IReadOnlyList<object> Messages, Drop? Dropped = null, DateTimeOffset? WakeAt = null)
{
    public static readonly Step Unchanged = new(false, []);

    /// <summary>This step followed by <paramref name="next"/>, applied to the same run: one change, one store.</summary>
    public Step Then(Step next) => new(
        Changed || next.Changed,
        Messages.Count == 0 ? next.Messages : next.Messages.Count == 0 ? Messages : [.. Messages, .. next.Messages],
        next.Dropped ?? Dropped,
        WakeAt is { } a && next.WakeAt is { } b ? (a < b ? a : b) : WakeAt ?? next.WakeAt);
}

/// <summary>Why an event changed nothing: <paramref name="Kind"/> is a short name for metrics, <paramref name="Reason"/> says it in full.</summary>
public sealed record Drop(string Kind, string Reason)
{
    public static implicit operator Step(Drop drop) => new(false, [], drop);
}

/// <summary>Someone approves a task that waits for approval; <see cref="Refused"/> says why not, when it was not released.</summary>
public sealed record Approval(ApproveTask Request)
{
    public string? Refused { get; set; }
}

/// <summary>The run's timers may be due: retries to release, attempts past their time, the run's own timeout, claims to decide.</summary>
public sealed record TimersDue
{
    public static readonly TimersDue Instance = new();

    /// <summary>The live worker whose heartbeat lists an attempt, or null; without it nobody is taken to hold any.</summary>
    public Func<HeldAttempt, string?>? HolderOf { get; init; }

    /// <summary>
    /// Whether every live worker has been heard since the given moment (and a little after it, so that what a worker
    /// reported before that heartbeat is applied first), and the Scheduler has listened long enough to know them all;
    /// without it, every worker counts as heard.
    /// </summary>
    public Func<DateTimeOffset, bool>? HeardAllSince { get; init; }
}

/// <summary>The broker confirmed these messages of a step; the state that called for them no longer needs to send them.</summary>
public sealed record MessagesSent(IReadOnlyList<object> Messages);

/// <summary>Sending these messages failed; they are to be sent again.</summary>
public sealed record MessagesNotSent(IReadOnlyList<object> Messages);

/// <summary>Collects what the run's stored state calls for but is not known to have been sent (after a crash or a failed send).</summary>
public sealed record ResendUnsent
{
    public static readonly ResendUnsent Instance = new();
}

/// <summary>
/// A worker reports a copy of an attempt it got again (redelivered, or sent again). <paramref name="HeldBy"/> is another
/// live worker whose heartbeat lists the attempt, if any.
/// </summary>
public sealed record AttemptClaim(ClaimAttempt Claim, string? HeldBy)
{
    /// <summary>The answer, set when the claim is applied.</summary>
    public AttemptClaimed? Answer { get; set; }
}

/// <summary>A worker that listed the attempt as held has been silent for the worker timeout: stopped, hung or cut off.</summary>
public sealed record AttemptAbandoned(string Worker, HeldAttempt Attempt);

/// <summary>The process that ran an embedded run ended before the run did; its queued tasks went with it.</summary>
public sealed record RunInterrupted(string Reason);

/// <summary>
/// The run's state machine, free of any bus or store so tests call it directly. <see cref="Apply"/> is the one way a run
/// changes. Every event is idempotent: one that was already applied (a duplicate delivery) or that no longer applies
/// (a stale attempt, a finished run, a report without the attempt's token) changes nothing, releases nothing, and says why.
/// </summary>
public static class RunProgression
{
    /// <summary>How long past a running attempt's timeout the Scheduler waits for its worker's own report before it gives the task to another.</summary>
    public static readonly TimeSpan TimeoutGrace = TimeSpan.FromSeconds(10);

    /// <summary>How often a claim is looked at again until every live worker has been heard since it was made.</summary>
    static readonly TimeSpan ClaimRecheck = TimeSpan.FromSeconds(1);

    static readonly JsonElement NullResult = JsonSerializer.SerializeToElement<object?>(null);

    /// <summary>The most children one mapped task may have; a longer list fails the task with a MappingError.</summary>
    public const int MaxMapElements = 100_000;

    /// <summary>
    /// The most tasks one step sends at once. A wider release (a fan-out of 100,000, a big map) queues the rest in
    /// memory, and each slice the broker confirms sends the next: the messages of a slice are all that exist at a time,
    /// where a whole step's would be tens of megabytes, made at once and kept until the last of them is confirmed.
    /// </summary>
    public const int ReleaseSlice = 2_000;

    /// <summary>A new run with every task pending, then the tasks without upstreams made ready.</summary>
    public static (RunRecord Run, Step Step) Start(
        Guid runId, FlowDefinition flow, string pool, IReadOnlyDictionary<string, JsonElement> parameters, DateTimeOffset now,
        string? traceParent = null, double? timeoutSeconds = null, bool noCache = false, RunParent? parent = null)
    {
        var timeout = timeoutSeconds ?? flow.TimeoutSeconds;
        var run = new RunRecord
        {
            RunId = runId,
            Flow = flow,
            Pool = pool,
            TraceParent = traceParent,
            Parameters = parameters,
            CreatedAt = now,
            DeadlineAt = timeout is { } t ? now + TimeSpan.FromSeconds(t) : null,
            NoCache = noCache,
            Parent = parent,
            State = RunState.Running,
            Tasks = flow.Tasks.ToDictionary(
                t => t.Slug,
                t => new TaskRecord { Slug = t.Slug, Type = t.Type, State = TaskState.Pending },
                StringComparer.Ordinal),
        };
        var step = new StepBuilder();
        step.Messages.Add(new RunAccepted(runId, flow.Name, flow.Version, flow.Tasks.Count, now));
        foreach (var slug in run.Graph.Roots)
        {
            var root = run.Tasks[slug];
            if (Decide(run, root) is var (state, _, error))
            {
                run.Transition(root, state); // a manual_only task first waits for approval
                root.Error = error;
            }
            else
                MakeReady(run, root, now, step);
        }
        step.Wake(run.DeadlineAt);
        return (run, step.Build());
    }

    /// <summary>Applies an event (a task report, a cancellation, a timer, a send's outcome) to the run.</summary>
    public static Step Apply(RunRecord run, object message, DateTimeOffset now) => message switch
    {
        TaskStarted started => Started(run, started),
        TaskCompleted completed => Completed(run, completed, now),
        TaskFailed failed => Failed(run, failed, now),
        CancelRun cancel => Cancel(run, cancel.Reason, now),
        Approval approval => Approve(run, approval, now),
        CacheChecked found => FromCache(run, found, now),
        TimersDue due => Due(run, due, now),
        MessagesSent sent => Sent(run, sent.Messages, Outbox.Sent),
        MessagesNotSent notSent => Sent(run, notSent.Messages, Outbox.Unsent),
        ResendUnsent => Unsent(run, now),
        RunInterrupted interrupted => Interrupt(run, interrupted.Reason, now),
        AttemptClaim claim => Claim(run, claim, now),
        AttemptAbandoned abandoned => Abandoned(run, abandoned, now),
        _ => throw new ArgumentException($"a run takes no event of type {message.GetType().Name}", nameof(message)),
    };

    /// <summary>A worker picked the task up; with a timeout, the Scheduler's own watch of it starts.</summary>
    static Step Started(RunRecord run, TaskStarted message)
    {
        if (run.IsFinished)
            return new Drop("ended", "the run has ended");
        if (!run.Tasks.TryGetValue(message.TaskSlug, out var task))
            return new Drop("unknown_task", $"the run has no task '{message.TaskSlug}'");
        // Only a ready task of the same attempt moves on; a late TaskStarted after its TaskCompleted is ignored.
        if (task.State != TaskState.Ready || task.Attempt != message.Attempt)
            return new Drop("stale_attempt", $"task '{task.Slug}' is {State(task.State)} at attempt {task.Attempt}, not ready at attempt {message.Attempt}");
        run.Transition(task, TaskState.Running);
        task.StartedAt = message.StartedAt;
        task.Worker = message.Worker;
        var step = new StepBuilder();
        if (run.Graph.Node(task.Slug).TimeoutSeconds is { } timeout)
            step.Wake(task.DueAt = message.StartedAt + TimeSpan.FromSeconds(timeout) + TimeoutGrace);
        return step.Build();
    }

    /// <summary>Records the result, decides every downstream task whose upstreams have now all ended, and ends the run when nothing is left.</summary>
    static Step Completed(RunRecord run, TaskCompleted message, DateTimeOffset now)
    {
        if (Refused(run, message.TaskSlug, message.Attempt, message.Token, out var task) is { } refused)
            return refused;
        if (message.Result.ValueKind == JsonValueKind.Undefined)
            return new Drop("malformed", $"task '{task.Slug}': the report has no result");
        var size = JsonMarshal.GetRawUtf8Value(message.Result).Length;
        if (size > TaskLimits.MaxResultBytes)
            return new Drop("oversized", $"task '{task.Slug}': the result of {size} bytes is over the limit of {TaskLimits.MaxResultBytes}");
        run.Transition(task, TaskState.Completed);
        task.Result = message.Result;
        task.Worker = message.Worker;
        task.StartedAt ??= message.StartedAt;
        task.FinishedAt = message.FinishedAt;
        task.DueAt = null;

        var step = new StepBuilder();
        if (task.CacheKey is { } key && run.Graph.Node(task.Slug).Cache is { } cache)
            step.Messages.Add(new StoreCache(key, message.Result, run.Flow.Name, task.Slug, run.RunId, now, now + TimeSpan.FromSeconds(cache.ForSeconds)));
        Settle(run, task, now, step);
        return step.Build();
    }

    /// <summary>The answer of the task's cache: a hit completes the task as cached, a miss releases its first attempt.</summary>
    static Step FromCache(RunRecord run, CacheChecked found, DateTimeOffset now)
    {
        if (run.IsFinished)
            return new Drop("ended", $"the run has ended ({State(run.State)})");
        if (!run.Tasks.TryGetValue(found.TaskSlug, out var task) || task.State != TaskState.Checking || task.CacheKey != found.Key)
            return new Drop("stale_check", $"task '{found.TaskSlug}' is not waiting for its cache");
        var step = new StepBuilder();
        if (found.Result is { } result)
        {
            run.Transition(task, TaskState.Cached);
            task.Result = result;
            task.StartedAt = task.FinishedAt = now;
            task.Dispatch = Outbox.Sent;
            Settle(run, task, now, step);
        }
        else
            MakeReady(run, task, now, step);
        return step.Build();
    }

    /// <summary>
    /// Ends the attempt. If the task's retry policy takes this error, the next attempt is released now or once its delay
    /// has passed; otherwise the task fails, everything downstream is skipped, and the run fails once nothing is left.
    /// </summary>
    static Step Failed(RunRecord run, TaskFailed message, DateTimeOffset now)
    {
        if (Refused(run, message.TaskSlug, message.Attempt, message.Token, out var task) is { } refused)
            return refused;
        var step = new StepBuilder();
        task.StartedAt ??= message.StartedAt; // as for a completed attempt: a quick failure came without a TaskStarted
        EndAttempt(run, task, message.ErrorType, message.Message, message.Retryable, message.Worker, message.FinishedAt, now, step);
        return step.Build();
    }

    /// <summary>
    /// A worker got a copy of an attempt again (redelivered, or sent again after the Scheduler could not tell whether the
    /// first copy went out). The copy itself never runs, and the worker does not wait for the answer. If the attempt has
    /// ended, nothing is to do. Otherwise the claim is kept with the task (<see cref="TaskRecord.ClaimedAt"/>, stored) and
    /// looked at every second: while a live worker's heartbeat lists the attempt, its holder reports it; once every live
    /// worker has been heard since the claim and none lists it, the attempt counts as lost and a new one is released, so
    /// no attempt runs twice and a late report of the old one changes nothing. A holder that dies later leaves the
    /// attempt to the same rule, even across a restart of the Scheduler, which knows no worker's heartbeat from before.
    /// A lost attempt does not count against the task's retries.
    /// </summary>
    static Step Claim(RunRecord run, AttemptClaim attempt, DateTimeOffset now)
    {
        var claim = attempt.Claim;
        if (Refused(run, claim.TaskSlug, claim.Attempt, claim.Token, out var task) is { } refused)
        {
            attempt.Answer = new AttemptClaimed(ClaimDecision.Skip, refused.Reason);
            return refused;
        }

        if (task.ClaimedAt is { } claimed)
        {
            attempt.Answer = new AttemptClaimed(ClaimDecision.Skip, $"task '{task.Slug}': attempt {task.Attempt} was claimed at {claimed:O} already");
            return new Drop("claim_pending", attempt.Answer.Reason);
        }

        var step = new StepBuilder();
        task.ClaimedAt = now;
        step.Wake(task.ClaimCheckAt = now + ClaimRecheck);
        run.Touch(task);
        attempt.Answer = new AttemptClaimed(ClaimDecision.Skip, attempt.HeldBy is { } holder
            ? $"task '{task.Slug}': worker '{holder}' holds attempt {task.Attempt}; it is released again if that worker goes silent"
            : $"task '{task.Slug}': attempt {task.Attempt} is released again once every live worker has been heard without holding it");
        return step.Build();
    }

    /// <summary>
    /// The worker that held the attempt went silent: the attempt counts as lost and a new one is released, for another
    /// worker. If the silent one wakes up, its report of the old attempt changes nothing.
    /// </summary>
    static Step Abandoned(RunRecord run, AttemptAbandoned abandoned, DateTimeOffset now)
    {
        var held = abandoned.Attempt;
        if (run.IsFinished)
            return new Drop("ended", "the run has ended");
        if (!run.Tasks.TryGetValue(held.TaskSlug, out var task) || task.Attempt != held.Attempt || task.State is not (TaskState.Ready or TaskState.Running))
            return new Drop("stale_attempt", $"task '{held.TaskSlug}': attempt {held.Attempt} is no longer running");
        var step = new StepBuilder();
        Lose(run, task, abandoned.Worker, $"worker '{abandoned.Worker}' went silent while it held attempt {task.Attempt}", now, step);
        return step.Build();
    }

    // A lost attempt is not the task's failure: a new one is released whatever its retry policy says.
    static void Lose(RunRecord run, TaskRecord task, string? worker, string why, DateTimeOffset now, StepBuilder step)
    {
        task.AddPastAttempt(new AttemptRecord(task.Attempt, AttemptOutcome.Lost, "WorkerLost", $"task '{task.Slug}': {why}", worker ?? task.Worker, task.StartedAt, now));
        MakeReady(run, task, now, step);
    }

    /// <summary>Releases a task that waits for approval.</summary>
    static Step Approve(RunRecord run, Approval approval, DateTimeOffset now)
    {
        var slug = approval.Request.TaskSlug;
        Drop? refused = run.IsFinished ? new Drop("ended", $"the run has ended ({State(run.State)})")
            : !run.Tasks.TryGetValue(slug, out var task) ? new Drop("unknown_task", $"the run has no task '{slug}'")
            : task.State != TaskState.Paused ? new Drop("not_paused", $"task '{slug}' is {State(task.State)}, not waiting for approval")
            : null;
        if (refused is not null)
        {
            approval.Refused = refused.Reason;
            return refused;
        }

        var step = new StepBuilder();
        MakeReady(run, run.Tasks[slug], now, step);
        return step.Build();
    }

    /// <summary>Cancels every task not yet final; the run ends cancelled. Workers hear RunCancelled and cancel what they hold.</summary>
    static Step Cancel(RunRecord run, string reason, DateTimeOffset now)
    {
        if (run.IsFinished)
            return new Drop("ended", $"the run has ended ({State(run.State)})");
        var step = new StepBuilder();
        foreach (var task in run.Tasks.Values.Where(t => !t.IsFinal))
        {
            CancelSubflow(run, task, $"run {run.RunId}, which started it, was cancelled: {reason}", step);
            run.Transition(task, TaskState.Cancelled);
            task.FinishedAt = now;
            task.DueAt = null;
        }

        End(run, RunState.Cancelled, string.IsNullOrWhiteSpace(reason) ? "cancelled" : reason, now, step);
        return step.Build();
    }

    /// <summary>Fires the timers that are due: the run's timeout, retries whose delay has passed, running attempts past their time.</summary>
    static Step Due(RunRecord run, TimersDue due, DateTimeOffset now)
    {
        if (run.IsFinished)
            return new Drop("ended", "the run has ended");
        if (run.DeadlineAt is { } deadline && deadline <= now)
            return Cancel(run, $"timed out: the run did not end within {(deadline - run.CreatedAt).TotalSeconds:0.###} s", now);
        var step = new StepBuilder { Changed = false };
        foreach (var task in run.OrderedTasks.Where(t => t.ClaimedAt is { } claimed && (t.ClaimCheckAt ?? claimed) <= now).ToArray())
        {
            // A worker that holds it may not have been heard since: until every live one has, ask again shortly.
            if (due.HeardAllSince?.Invoke(task.ClaimedAt!.Value) == false)
            {
                step.Wake(task.ClaimCheckAt = now + ClaimRecheck);
                continue;
            }

            // Held by a live worker: it reports the attempt, or goes silent and is no longer live; look again shortly.
            if (task.State is TaskState.Ready or TaskState.Running && due.HolderOf?.Invoke(new HeldAttempt(run.RunId, task.Slug, task.Attempt)) is not null)
            {
                step.Wake(task.ClaimCheckAt = now + ClaimRecheck);
                continue;
            }

            step.Changed = true;
            run.Touch(task);
            task.ClaimedAt = task.ClaimCheckAt = null;
            if (task.State is TaskState.Ready or TaskState.Running)
                Lose(run, task, null, $"attempt {task.Attempt} was delivered again and no live worker holds it", now, step);
        }

        foreach (var task in run.OrderedTasks.Where(t => t.DueAt <= now).ToArray())
        {
            step.Changed = true;
            if (task.State == TaskState.Retrying)
                MakeReady(run, task, now, step);
            else if (task.State == TaskState.Running && !run.IsFinished)
            {
                // The worker should have cancelled the attempt and said so by now: it is stopped, hung or gone.
                var timeout = run.Graph.Node(task.Slug).TimeoutSeconds;
                CancelSubflow(run, task, $"task '{task.Slug}' of run {run.RunId}, which started it, timed out", step);
                EndAttempt(run, task, TaskErrors.TimedOut,
                    $"task '{task.Slug}': no report from worker '{task.Worker}' within its timeout of {timeout} s (and {TimeoutGrace.TotalSeconds:0} s of grace)",
                    true, task.Worker, now, now, step);
            }
        }

        step.Wake(run.NextDueAt());
        // Nothing to store, but a claim still waiting is looked at again.
        return step.Changed ? step.Build() : step.Build() with { Changed = false, Dropped = new Drop("not_due", "no timer of the run is due") };
    }

    /// <summary>The state no longer needs to send what the broker confirmed; what failed to go out is to be sent again.</summary>
    static Step Sent(RunRecord run, IReadOnlyList<object> messages, Outbox outcome)
    {
        // Confirmed is confirmed, even on a copy of the run read again meanwhile; only what this process is sending can fail.
        bool Moves(Outbox current) => outcome == Outbox.Sent ? current != Outbox.Sent : current == Outbox.Sending;
        var ended = false;
        foreach (var message in messages)
        {
            // A task's release: its cache check (before attempt 1), its TaskReady, or its subflow's run request.
            (string Slug, int Attempt)? released = message switch
            {
                CheckCache check => (check.TaskSlug, 0),
                TaskReady ready => (ready.TaskSlug, ready.Attempt),
                RunRequested { Parent: { } parent } when parent.RunId == run.RunId => (parent.Task, parent.Attempt),
                _ => null,
            };
            if (released is var (slug, attempt))
            {
                if (run.Tasks.TryGetValue(slug, out var task) && task.Attempt == attempt && Moves(task.Dispatch))
                    task.Dispatch = outcome;
            }
            else if (message is RunCompleted or RunFailed or RunCancelled && run.IsFinished && Moves(run.Ending))
            {
                run.Ending = outcome;
                ended = true;
            }
        }

        // A confirmed slice makes room for the next one of the tasks still queued (nothing to store: queued is stored as unsent).
        var next = outcome == Outbox.Sent && run.HasQueued ? new StepBuilder() : null;
        if (next is not null)
            SendQueued(run, next);

        // A failed send is not stored: the state on disk already says the message is still to go. A confirmed release is
        // stored with the task's next change (its report, as a rule), not by a write of its own: that write would double
        // the rows written per task, and a crash before then only makes the restarted Scheduler send the release again
        // as a copy (SentAgain), which a worker claims and never runs. The run's end is stored at once, as nothing may
        // come after it.
        var changed = ended && outcome == Outbox.Sent;
        return next is null && !changed ? Step.Unchanged : new Step(changed, next?.Messages ?? []);
    }

    // The next slice of the queued releases, in the order they were released; a task cancelled meanwhile is passed over.
    static void SendQueued(RunRecord run, StepBuilder step)
    {
        while (!run.IsFinished && step.Releases < ReleaseSlice && run.Dequeue() is { } task)
        {
            if (task.State != TaskState.Ready || task.Dispatch != Outbox.Queued)
                continue;
            task.Dispatch = Outbox.Sending;
            step.Releases++;
            step.Messages.Add(ReadyMessage(run, task));
        }
    }

    /// <summary>
    /// The messages the run's state calls for that are not known to have gone out: after a crash between storing a
    /// change and sending what it caused, or a failed send. A message this process is sending right now is not repeated,
    /// and a task's TaskReady that the broker confirmed is never sent again, so a task a worker may hold runs only once.
    /// </summary>
    static Step Unsent(RunRecord run, DateTimeOffset now)
    {
        var step = new StepBuilder();
        if (run.IsFinished)
        {
            if (run.Ending == Outbox.Unsent)
            {
                run.Ending = Outbox.Sending;
                step.Messages.Add(Ending(run, run.FinishedAt ?? now));
                if (run.Parent is { } parent)
                    step.Messages.Add(ParentReport(run, parent, run.FinishedAt ?? now));
            }

            return new Step(false, step.Messages);
        }

        foreach (var task in run.OrderedTasks.Where(t => t.State is TaskState.Ready or TaskState.Checking && t.Dispatch == Outbox.Unsent))
        {
            task.Dispatch = Outbox.Sending;
            step.Messages.Add(task.State == TaskState.Checking ? new CheckCache(run.RunId, task.Slug, task.CacheKey!) : ReadyMessage(run, task) switch
            {
                // The first copy may have gone out, and may be running: the worker that gets this one claims it instead.
                TaskReady ready => ready with { SentAgain = true },
                var request => request, // a subflow's run id is the attempt's: a second request starts nothing
            });
        }

        // Releases still waiting in this process's queue never went out: they go as first copies, a slice at a time.
        SendQueued(run, step);

        return new Step(false, step.Messages, WakeAt: run.NextDueAt());
    }

    /// <summary>Ends an embedded run whose process is gone: its queued tasks were in that process's memory.</summary>
    static Step Interrupt(RunRecord run, string reason, DateTimeOffset now)
    {
        if (run.IsFinished)
            return run.Ending == Outbox.Sent ? new Drop("ended", "the run has ended") : Unsent(run, now);
        foreach (var task in run.Tasks.Values.Where(t => !t.IsFinal))
        {
            run.Transition(task, TaskState.Cancelled);
            task.FinishedAt = now;
            task.DueAt = null;
        }

        var step = new StepBuilder();
        End(run, RunState.Failed, reason, now, step);
        return step.Build();
    }

    /// <summary>Why a report does not apply to the task's current attempt, or null when it does.</summary>
    static Drop? Refused(RunRecord run, string slug, int attempt, Guid token, out TaskRecord task)
    {
        task = null!;
        if (run.IsFinished)
            return new Drop("ended", $"the run has ended ({State(run.State)})");
        if (!run.Tasks.TryGetValue(slug, out var found))
            return new Drop("unknown_task", $"the run has no task '{slug}'");
        task = found;
        if (found.Attempt != attempt)
            return new Drop("stale_attempt", $"task '{slug}': attempt {attempt} is not the current attempt {found.Attempt}");
        if (found.State is not (TaskState.Ready or TaskState.Running))
            return new Drop("duplicate", $"task '{slug}': attempt {attempt} has already ended ({State(found.State)})");
        // First report of the current attempt wins, and only its holder knows the token.
        return token == found.Token ? null : new Drop("wrong_token", $"task '{slug}': the report of attempt {attempt} does not carry the attempt's token");
    }

    /// <summary>The current attempt of <paramref name="task"/> ended without a result: retry it, or fail the task.</summary>
    static void EndAttempt(
        RunRecord run, TaskRecord task, string errorType, string error, bool retryable, string? worker, DateTimeOffset finishedAt,
        DateTimeOffset now, StepBuilder step)
    {
        var timedOut = errorType == TaskErrors.TimedOut;
        var node = run.Graph.Node(task.Slug);
        task.ErrorType = errorType;
        task.Error = error;
        task.Worker = worker;
        task.FinishedAt = finishedAt;
        task.DueAt = null;
        // Attempts lost with their worker are not the task's failures: they count neither against its retries nor in its backoff.
        var counted = task.Attempt - task.PastAttempts.Count(a => a.Outcome == AttemptOutcome.Lost);
        if (node.Retry is { } retry && retry.ShouldRetry(counted, errorType, retryable))
        {
            task.AddPastAttempt(new AttemptRecord(task.Attempt, timedOut ? AttemptOutcome.TimedOut : AttemptOutcome.Failed, errorType, error, worker, task.StartedAt, finishedAt));
            var delay = retry.DelayAfter(counted, Random.Shared.NextDouble());
            if (delay <= TimeSpan.Zero)
                MakeReady(run, task, now, step);
            else
            {
                run.Transition(task, TaskState.Retrying);
                step.Wake(task.DueAt = now + delay);
            }

            return;
        }

        run.Transition(task, timedOut ? TaskState.TimedOut : TaskState.Failed);
        if (run.FailedTask is null)
        {
            run.FailedTask = task.Slug;
            run.Error = $"{errorType}: {error}";
        }

        Settle(run, task, now, step);
    }

    /// <summary>
    /// A task ended: every downstream task whose upstream tasks have now all ended has its trigger decided. It is
    /// released, or it ends without running (skipped, trigger_failed), and then the same goes on further down. The run
    /// ends when nothing is left.
    /// </summary>
    static void Settle(RunRecord run, TaskRecord ended, DateTimeOffset now, StepBuilder step)
    {
        // A mapped task's child: nothing downstream waits on it alone; the mapped task ends with its last child.
        if (ended.Parent is { } parentSlug)
        {
            var parent = run.Tasks[parentSlug];
            if (parent.State != TaskState.Mapped || run.ChildrenLeft(parentSlug) != 0)
                return;
            EndMapped(run, parent, now);
            ended = parent;
        }

        // Breadth first, so that a fan-out's tasks are released in the flow's order.
        var toDecide = new Queue<string>(run.Graph.DownstreamOf(ended.Slug));
        while (toDecide.TryDequeue(out var slug))
        {
            var next = run.Tasks[slug];
            if (next.State != TaskState.Pending || run.WaitingOn(slug) != 0)
                continue;
            // Decided here, by no worker: a merge takes the branch that ran (Decide skips one where none completed).
            if (run.Graph.Node(slug).Type == FlowDefinition.MergeType && Merged(run, next) is { } chosen)
            {
                run.Transition(next, TaskState.Completed);
                next.Result = chosen.Result;
                next.Attempt = 1;
                next.ReadyAt = next.StartedAt = next.FinishedAt = now;
                foreach (var further in run.Graph.DownstreamOf(slug))
                    toDecide.Enqueue(further);
                continue;
            }

            if (Decide(run, next) is not var (state, errorType, error))
            {
                MakeReady(run, next, now, step);
                continue;
            }

            run.Transition(next, state);
            next.ErrorType = errorType;
            next.Error = error;
            if (state == TaskState.Paused)
                continue; // until it is approved
            next.FinishedAt = now;
            foreach (var further in run.Graph.DownstreamOf(slug))
                toDecide.Enqueue(further);
        }

        FinishIfDone(run, now, step);
    }

    // The first branch of a merge, in argument order, whose task completed; null when none did (the merge is then skipped).
    static TaskRecord? Merged(RunRecord run, TaskRecord merge) =>
        run.Graph.Node(merge.Slug).Inputs.OrderBy(i => i.Key, StringComparer.Ordinal)
            .Select(i => run.Tasks[((TaskOutput)i.Value).Task]).FirstOrDefault(t => t.Succeeded);

    /// <summary>
    /// Whether a task whose upstream tasks have all ended runs (null), or how it ends without running. With the default
    /// trigger a failure or a skip upstream skips it; any other trigger that is not met ends it trigger_failed; a task all
    /// of whose upstream tasks were skipped without a failure (a branch not taken) is skipped whatever its trigger, and so
    /// is a merge none of whose branches completed. A manual_only task that would run waits paused for its approval.
    /// </summary>
    public static (TaskState State, string? ErrorType, string Error)? Decide(RunRecord run, TaskRecord task)
    {
        var node = run.Graph.Node(task.Slug);
        // A mapped task's child: its mapped task was decided; the children of the same index of the mapped tasks it
        // maps over are its own upstream tasks (a child waits for no approval of its own).
        if (task.Parent is not null)
        {
            var elements = ElementUpstream(run, node, task.Index).ToArray();
            return elements.Length == 0 ? null : Triggered(task, node.Trigger == Trigger.ManualOnly ? Trigger.AllSuccessful : node.Trigger, elements, null);
        }

        // A mapped task over another one's result decides per element, in its children: a failed element skips only its own.
        var upstream = run.Graph.UpstreamOf(task.Slug).Where(u => !MapsElementWise(run, node, u)).Select(u => run.Tasks[u]).ToArray();
        (TaskState, string?, string)? runs = node.Trigger == Trigger.ManualOnly
            ? (TaskState.Paused, null, $"task '{task.Slug}' waits for approval: lume runs approve {run.RunId} {task.Slug}")
            : null;
        if (upstream.Length == 0) // a first task: every trigger is met, as in Prefect
            return runs;
        if (node.Type == FlowDefinition.MergeType) // no branch completed (Settle takes one that did)
            return upstream.Any(u => u.HasFailed)
                ? (TaskState.Skipped, TaskErrors.UpstreamFailed, $"task '{task.Slug}': no branch completed, and one failed")
                : (TaskState.Skipped, null, $"task '{task.Slug}': every branch was skipped");
        // A branch not taken: the condition ran, and its result is not the case's value.
        foreach (var condition in node.Case ?? [])
        {
            var test = run.Tasks[condition.Task];
            if (test.Succeeded && !JsonElement.DeepEquals(test.Result!.Value, condition.Value))
                return (TaskState.Skipped, null,
                    $"task '{task.Slug}': case not taken: '{test.Slug}' returned {test.Result.Value.GetRawText()}, not {condition.Value.GetRawText()}");
        }

        return Triggered(task, node.Trigger, upstream, runs);
    }

    // The arguments a mapped task maps element by element: mapped, not flattened, from a task that was mapped itself.
    static IEnumerable<string> ElementWiseSources(RunRecord run, TaskNode node) =>
        (node.Map ?? []).Where(a => node.Flatten?.Contains(a) != true).Select(a => node.Inputs[a]).OfType<TaskOutput>()
            .Select(o => o.Task).Where(t => run.ChildrenOf(t).Count > 0).Distinct();

    static bool MapsElementWise(RunRecord run, TaskNode node, string upstream) =>
        node.IsMapped && ElementWiseSources(run, node).Contains(upstream);

    static IEnumerable<TaskRecord> ElementUpstream(RunRecord run, TaskNode node, int index) =>
        ElementWiseSources(run, node).Select(t => run.ChildrenOf(t)[index]);

    /// <summary>Whether <paramref name="trigger"/> is met by <paramref name="upstream"/> (null: the task runs, or <paramref name="runs"/>), or how the task ends.</summary>
    static (TaskState State, string? ErrorType, string Error)? Triggered(
        TaskRecord task, Trigger trigger, TaskRecord[] upstream, (TaskState State, string? ErrorType, string Error)? runs)
    {
        var failed = upstream.FirstOrDefault(u => u.HasFailed);
        var completed = upstream.Count(u => u.Succeeded);
        if (trigger is Trigger.AllSuccessful or Trigger.ManualOnly)
        {
            if (completed == upstream.Length)
                return runs;
            if (failed is not null)
                return (TaskState.Skipped, TaskErrors.UpstreamFailed, $"task '{task.Slug}': upstream task '{failed.Slug}' {State(failed.State)}");
            return (TaskState.Skipped, null, $"task '{task.Slug}': upstream task '{upstream.First(u => !u.Succeeded).Slug}' was skipped");
        }

        if (upstream.All(u => u.State == TaskState.Skipped && !u.HasFailed))
            return (TaskState.Skipped, null, $"task '{task.Slug}': every upstream task was skipped");
        var met = trigger switch
        {
            Trigger.AllFinished => true,
            Trigger.AllFailed => upstream.All(u => u.HasFailed),
            Trigger.AnySuccessful => completed > 0,
            Trigger.AnyFailed => failed is not null,
            _ => throw new InvalidOperationException($"task '{task.Slug}': unknown trigger {trigger}"),
        };
        return met ? null : (TaskState.TriggerFailed, TaskErrors.TriggerFailed,
            $"task '{task.Slug}': trigger {State(trigger)} not met by its upstream tasks ({string.Join(", ", upstream.Select(u => $"{u.Slug} {State(u.State)}"))})");
    }

    /// <summary>
    /// Releases a new attempt of the task, with a token of its own. The first release of a task with a cache policy
    /// first asks the cache (state checking), unless the run reads no cache.
    /// </summary>
    static void MakeReady(RunRecord run, TaskRecord task, DateTimeOffset now, StepBuilder step)
    {
        var node = run.Graph.Node(task.Slug);
        if (node.IsMapped && task.Parent is null)
        {
            Expand(run, task, now, step);
            return;
        }

        if (node.Cache is { } cache && task.Attempt == 0 && task.State != TaskState.Checking)
        {
            task.CacheKey = cache.KeyFor(node.Type, Inputs(run, task));
            if (!run.NoCache)
            {
                run.Transition(task, TaskState.Checking);
                task.ReadyAt = now;
                task.Dispatch = Outbox.Sending;
                step.Messages.Add(new CheckCache(run.RunId, task.Slug, task.CacheKey));
                return;
            }
        }

        run.Transition(task, TaskState.Ready);
        task.Attempt += 1;
        task.Token = Guid.NewGuid();
        task.ReadyAt = now;
        task.StartedAt = null;
        task.FinishedAt = null;
        task.Worker = null;
        task.ErrorType = null;
        task.Error = null;
        task.DueAt = null;
        task.ClaimedAt = task.ClaimCheckAt = null;
        if (step.Releases++ >= ReleaseSlice)
        {
            task.Dispatch = Outbox.Queued;
            run.Queue(task);
            return;
        }

        task.Dispatch = Outbox.Sending;
        step.Messages.Add(ReadyMessage(run, task));
    }

    // A task that runs although an upstream task did not complete (a trigger other than the default) gets null for its
    // result. A mapped task's child gets its element of each mapped argument.
    static IReadOnlyDictionary<string, JsonElement> Inputs(RunRecord run, TaskRecord task)
    {
        var node = run.Graph.Node(task.Slug);
        var elements = task.Parent is null ? null : Elements(run, node);
        return TaskInputs.Resolve(node, run.Parameters, slug => run.Tasks[slug].Result ?? NullResult,
            elements is null ? null : argument => elements.TryGetValue(argument, out var list) ? list[task.Index] : null);
    }

    // The mapped arguments' elements, once they have been checked (see MapProblem).
    static Dictionary<string, JsonElement[]> Elements(RunRecord run, TaskNode node) =>
        run.Elements(node.Slug, () => MapProblem(run, node, out var elements) is { } problem ? throw new InvalidOperationException(problem) : elements);

    /// <summary>
    /// Maps a task over its mapped arguments: one child per element, each decided on its own (a child of a task mapped
    /// over another mapped task's result runs after that task's child of the same index, by the trigger). With no
    /// element the task completes at once with an empty list; with arguments that are not lists of one length it fails.
    /// </summary>
    static void Expand(RunRecord run, TaskRecord parent, DateTimeOffset now, StepBuilder step)
    {
        var node = run.Graph.Node(parent.Slug);
        parent.ReadyAt = parent.StartedAt = now;
        if (MapProblem(run, node, out var elements) is { } problem)
        {
            run.Transition(parent, TaskState.Failed);
            parent.ErrorType = TaskErrors.MappingError;
            parent.Error = problem;
            parent.FinishedAt = now;
            Settle(run, parent, now, step);
            return;
        }

        run.Elements(node.Slug, () => elements);
        run.Transition(parent, TaskState.Mapped);
        var count = elements.Values.First().Length;
        var children = Enumerable.Range(0, count).Select(i => run.AddChild(parent, i)).ToArray();
        foreach (var child in children)
        {
            if (Decide(run, child) is var (state, errorType, error))
            {
                run.Transition(child, state);
                child.ErrorType = errorType;
                child.Error = error;
                child.FinishedAt = now;
            }
            else
                MakeReady(run, child, now, step);
        }

        if (count == 0)
        {
            EndMapped(run, parent, now);
            Settle(run, parent, now, step);
        }
        else if (run.ChildrenLeft(parent.Slug) == 0) // every child ended without running: the last one ends the mapped task
            Settle(run, children[^1], now, step);
    }

    /// <summary>Why the task cannot be mapped (a mapped argument that is not a list, lists of different lengths, too many elements), or null; then <paramref name="elements"/> holds each mapped argument's elements.</summary>
    static string? MapProblem(RunRecord run, TaskNode node, out Dictionary<string, JsonElement[]> elements)
    {
        var inputs = TaskInputs.Resolve(node, run.Parameters, slug => run.Tasks[slug].Result ?? NullResult);
        elements = new Dictionary<string, JsonElement[]>(StringComparer.Ordinal);
        foreach (var argument in node.Map!)
        {
            var value = node.Flatten?.Contains(argument) == true ? TaskInputs.Flatten(inputs[argument]) : inputs[argument];
            var from = node.Inputs[argument] switch
            {
                ParameterInput p => $"parameter '{p.Parameter}'",
                TaskOutput o => $"the result of task '{o.Task}'",
                _ => "a constant",
            };
            if (value.ValueKind != JsonValueKind.Array)
                return $"task '{node.Slug}': mapped argument '{argument}' ({from}) is {Kind(value)}, not a list; pass a list, or mark the argument unmapped";
            if (value.GetArrayLength() > MaxMapElements)
                return $"task '{node.Slug}': mapped argument '{argument}' ({from}) has {value.GetArrayLength()} elements, more than the limit of {MaxMapElements}";
            elements[argument] = value.EnumerateArray().ToArray();
        }

        if (elements.Values.Select(e => e.Length).Distinct().Count() > 1)
            return $"task '{node.Slug}': its mapped arguments have different lengths ({string.Join(", ", elements.Select(e => $"'{e.Key}': {e.Value.Length}"))}); " +
                "mapping takes element i of each, so they must be of one length";
        return null;
    }

    static string Kind(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };

    /// <summary>
    /// A mapped task whose children have all ended: its result is the list of their results in order (null for a child
    /// without one), and it fails when a child failed, so that the tasks after it see one task, by their triggers.
    /// </summary>
    static void EndMapped(RunRecord run, TaskRecord parent, DateTimeOffset now)
    {
        var children = run.ChildrenOf(parent.Slug);
        parent.Result = JsonSerializer.SerializeToElement(children.Select(c => c.Result ?? NullResult));
        parent.FinishedAt = now;
        var failed = children.Where(c => c.HasFailed).ToArray();
        if (failed.Length == 0)
        {
            run.Transition(parent, TaskState.Completed);
            return;
        }

        run.Transition(parent, TaskState.Failed);
        parent.ErrorType = TaskErrors.MappedTaskFailed;
        parent.Error = $"task '{parent.Slug}': {failed.Length} of {children.Count} mapped tasks did not complete; the first, '{failed[0].Slug}', " +
            $"{State(failed[0].State)}: {failed[0].Error}";
    }

    // A task's release: a TaskReady for the workers, or for a subflow task the request of its child run.
    static object ReadyMessage(RunRecord run, TaskRecord task)
    {
        var node = run.Graph.Node(task.Slug);
        var inputs = Inputs(run, task);
        if (node.Subflow is { } call)
            return new RunRequested(SubflowRunId(run.RunId, task.Slug, task.Attempt), call.Flow, call.Version, inputs, task.ReadyAt ?? run.CreatedAt,
                NoCache: run.NoCache, Parent: new RunParent(run.RunId, task.Slug, task.Attempt, task.Token, call.Task, call.Tasks));
        return new TaskReady(run.RunId, run.Flow.Name, task.Slug, task.Type, task.Attempt, task.Token, inputs, task.ReadyAt ?? run.CreatedAt, node.TimeoutSeconds);
    }

    // The reference tasks decide how the run ends: a failure that a trigger handled (a task that ran because of it)
    // does not fail the run, one that reached a reference task does.
    static void FinishIfDone(RunRecord run, DateTimeOffset now, StepBuilder step)
    {
        if (run.IsFinished || run.Unfinished != 0)
            return;
        var failing = run.Graph.References.Select(slug => run.Tasks[slug]).FirstOrDefault(t => t.HasFailed);
        if (failing is null)
        {
            run.FailedTask = null;
            End(run, RunState.Completed, null, now, step);
            return;
        }

        if (run.FailedTask is null)
        {
            // The cause, not its echo: a task skipped after a failure names the task that failed.
            var cause = run.OrderedTasks.FirstOrDefault(t => t.HasFailed && t.State != TaskState.Skipped) ?? failing;
            run.FailedTask = cause.Slug;
            run.Error = $"{cause.ErrorType}: {cause.Error}";
        }

        End(run, RunState.Failed, run.Error, now, step);
    }

    static void End(RunRecord run, RunState state, string? error, DateTimeOffset now, StepBuilder step)
    {
        run.State = state;
        run.Error = error;
        run.FinishedAt = now;
        run.Ending = Outbox.Sending;
        step.Messages.Add(Ending(run, now));
        // A subflow run's end is its parent task's report; it goes out with the run's end, and again with it after a crash.
        if (run.Parent is { } parent)
            step.Messages.Add(ParentReport(run, parent, now));
        step.Changed = true;
    }

    /// <summary>
    /// The id of the run an attempt of a subflow task starts: the same for the same attempt on every Scheduler, so a
    /// request sent again after a crash finds the run it started and starts nothing new.
    /// </summary>
    public static Guid SubflowRunId(Guid runId, string slug, int attempt)
    {
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(
            string.Create(System.Globalization.CultureInfo.InvariantCulture, $"lume-subflow/{runId:N}/{slug}/{attempt}")));
        hash[6] = (byte)((hash[6] & 0x0F) | 0x80); // version 8: a name-based id of our own
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash.AsSpan(0, 16), bigEndian: true);
    }

    // The subflow run of the task's current attempt, if it may still be running, is cancelled with it.
    static void CancelSubflow(RunRecord run, TaskRecord task, string reason, StepBuilder step)
    {
        if (run.Graph.Node(task.Slug).Subflow is not null && task.Attempt > 0 && task.State is TaskState.Ready or TaskState.Running)
            step.Messages.Add(new CancelRun(SubflowRunId(run.RunId, task.Slug, task.Attempt), reason));
    }

    /// <summary>
    /// What a subflow run's end tells its parent task: completed with the result of the task the parent asked for, or
    /// the run's outputs (its terminal tasks' results by slug); or failed, naming the run and why.
    /// </summary>
    static object ParentReport(RunRecord run, RunParent parent, DateTimeOffset finishedAt)
    {
        var worker = $"subflow run {run.RunId}";
        TaskFailed Fail(string error) => new(parent.RunId, parent.Task, parent.Attempt, parent.Token, TaskErrors.SubflowFailed,
            $"subflow run {run.RunId} of flow '{run.Flow.Name}' {error}", false, worker, finishedAt);
        TaskFailed NotInFlow(string slug) => Fail($"has no task '{slug}' (TaskNotInFlow); its tasks: {NameList.Of(run.Flow.Tasks.Select(t => t.Slug))}");
        if (run.State != RunState.Completed)
            return Fail($"{State(run.State)}: {run.Error}");
        JsonElement result;
        if (parent.ResultTasks is { } slugs)
        {
            if (slugs.FirstOrDefault(s => !run.Tasks.ContainsKey(s)) is { } missing)
                return NotInFlow(missing);
            result = JsonSerializer.SerializeToElement(slugs.ToDictionary(s => s, s => run.Tasks[s].Result ?? NullResult));
        }
        else if (parent.ResultTask is { } slug)
        {
            if (!run.Tasks.TryGetValue(slug, out var task))
                return NotInFlow(slug);
            if (!task.Succeeded)
                return Fail($"completed, but its task '{slug}' is {State(task.State)} (TaskNotCompleted)");
            result = task.Result ?? NullResult;
        }
        else
            result = JsonSerializer.SerializeToElement(run.Flow.Tasks.Where(t => run.Graph.DownstreamOf(t.Slug).Count == 0)
                .ToDictionary(t => t.Slug, t => run.Tasks[t.Slug].Result ?? NullResult));
        var size = result.GetRawText().Length;
        return size > TaskLimits.MaxResultBytes
            ? Fail($"completed with a result of {size} bytes, over the limit of {TaskLimits.MaxResultBytes} (ResultTooLarge); ask for one task's result, or save large data to a file")
            : new TaskCompleted(parent.RunId, parent.Task, parent.Attempt, parent.Token, result, worker, run.CreatedAt, finishedAt);
    }

    static object Ending(RunRecord run, DateTimeOffset finishedAt) => run.State switch
    {
        RunState.Completed => new RunCompleted(run.RunId, run.Flow.Name, run.CreatedAt, finishedAt),
        RunState.Cancelled => new RunCancelled(run.RunId, run.Flow.Name, run.Error ?? "cancelled", finishedAt),
        _ when run.FailedTask is null => new RunFailed(run.RunId, run.Flow.Name, RunFailureKind.Interrupted, null, "Interrupted",
            $"run {run.RunId} of flow '{run.Flow.Name}' was interrupted: {run.Error}", [], finishedAt),
        _ => new RunFailed(run.RunId, run.Flow.Name, RunFailureKind.TaskFailed, run.FailedTask, "FlowFailed",
            $"run {run.RunId} of flow '{run.Flow.Name}' failed in task '{run.FailedTask}': {run.Error}", [], finishedAt),
    };

    /// <summary>A state as users read it, and as it travels: <c>timed_out</c>, <c>running</c>.</summary>
    public static string State<T>(T state) where T : struct, Enum => WireEnumConverter<T>.Name(state);

    sealed class StepBuilder
    {
        public readonly List<object> Messages = [];
        public bool Changed = true;

        /// <summary>Tasks this step has released to be sent now (see <see cref="ReleaseSlice"/>).</summary>
        public int Releases;
        DateTimeOffset? _wakeAt;

        public void Wake(DateTimeOffset? at)
        {
            if (at is { } t && (_wakeAt is null || t < _wakeAt))
                _wakeAt = t;
        }

        public Step Build() => new(Changed, Messages, null, _wakeAt);
    }
}

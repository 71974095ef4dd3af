using System.Text.Json;
using System.Text.Json.Serialization;

namespace Lume.Contracts;

/// <summary>Asks the Scheduler to start a run of a flow. The run id is chosen by the client so it can follow the run.</summary>
/// <param name="Version">A flow version, or null for the newest one the Scheduler knows.</param>
/// <param name="Parameters">One JSON value per declared flow parameter.</param>
/// <param name="TimeoutSeconds">Cancel the run if it has not ended this long after it was accepted; null: the flow's own timeout, if any.</param>
/// <param name="Parent">Set when the Scheduler starts the run as a task of another run (a subflow); null for a client's run.</param>
/// <remarks>A request whose run id the Scheduler already knows starts nothing: a client may safely send it again.</remarks>
public sealed record RunRequested(
    Guid RunId,
    string Flow,
    string? Version,
    IReadOnlyDictionary<string, JsonElement> Parameters,
    DateTimeOffset RequestedAt,
    double? TimeoutSeconds = null,
    bool NoCache = false,
    RunParent? Parent = null);

/// <summary>
/// The task of another run that a subflow run is an attempt of: when the subflow run ends, the Scheduler reports that
/// attempt completed (with <paramref name="ResultTask"/>'s result, or the run's outputs) or failed.
/// </summary>
/// <param name="ResultTask">The subflow's task whose result is the parent task's result; null: the run's outputs, an object of its terminal tasks' results by slug.</param>
/// <param name="ResultTasks">Instead, these tasks' results by slug.</param>
public sealed record RunParent(Guid RunId, string Task, int Attempt, Guid Token, string? ResultTask, IReadOnlyList<string>? ResultTasks = null);

/// <summary>The Scheduler stored the run and released its first tasks.</summary>
public sealed record RunAccepted(Guid RunId, string Flow, string Version, int TaskCount, DateTimeOffset AcceptedAt);

/// <summary>
/// The running runs whose tasks changed state (released, started, ended) in the last second or so. Published by the
/// Scheduler about once a second, one message for all of them (up to <see cref="MaxRuns"/> a message), so that a
/// thousand long runs cost it one publish a second and not a thousand. A run is listed only once it has been going for
/// a while: a short run is told by its end event alone. For watchers (the web view), which read a listed run again;
/// nothing in the engine waits for it.
/// </summary>
public sealed record RunsProgressed(IReadOnlyList<RunProgressed> Runs)
{
    /// <summary>The most runs in one message; more go in the next.</summary>
    public const int MaxRuns = 1000;
}

/// <summary>One run of <see cref="RunsProgressed"/>: its tasks changed state by <paramref name="At"/>.</summary>
public sealed record RunProgressed(Guid RunId, string Flow, DateTimeOffset At);

/// <summary>Every task of the run completed.</summary>
public sealed record RunCompleted(Guid RunId, string Flow, DateTimeOffset StartedAt, DateTimeOffset FinishedAt);

/// <summary>Why a run failed. On the wire: <c>rejected</c>, <c>task_failed</c>, <c>interrupted</c>.</summary>
[JsonConverter(typeof(WireEnumConverter<RunFailureKind>))]
public enum RunFailureKind
{
    /// <summary>The request was refused before anything was stored: see <see cref="RunFailed.Problems"/>.</summary>
    Rejected,

    /// <summary>A task failed; tasks downstream of it were skipped.</summary>
    TaskFailed,

    /// <summary>The embedded process that ran the run ended before the run did.</summary>
    Interrupted,
}

/// <summary>A run ended without completing, or its request was rejected.</summary>
/// <param name="FailedTask">The slug of the first task that failed, when <paramref name="Kind"/> is TaskFailed.</param>
/// <param name="Problems">Every problem found in a rejected request, each naming the flow or parameter at fault.</param>
public sealed record RunFailed(
    Guid RunId,
    string Flow,
    RunFailureKind Kind,
    string? FailedTask,
    string ErrorType,
    string Message,
    IReadOnlyList<string> Problems,
    DateTimeOffset FinishedAt);

/// <summary>
/// Asks the Scheduler to cancel a run: tasks not started never start, running ones see their cancellation token fire. A
/// request is answered with <see cref="RunSnapshot"/>, the run's state afterwards without its tasks, or <see cref="RunNotFound"/>.
/// </summary>
public sealed record CancelRun(Guid RunId, string Reason);

/// <summary>
/// Approves a task that waits for approval (trigger <c>manual_only</c>): it is released to the workers. Answered with
/// <see cref="TaskApproval"/>, or <see cref="RunNotFound"/>.
/// </summary>
public sealed record ApproveTask(Guid RunId, string TaskSlug);

/// <summary>The answer to <see cref="ApproveTask"/>: whether the task was released, and if not, why (it is not waiting for approval, the run has ended).</summary>
public sealed record TaskApproval(Guid RunId, string TaskSlug, bool Approved, string Reason);

/// <summary>
/// The run was cancelled (by <see cref="CancelRun"/>, or because it ran past its timeout). Workers cancel the run's
/// tasks they hold when they hear it.
/// </summary>
public sealed record RunCancelled(Guid RunId, string Flow, string Reason, DateTimeOffset FinishedAt);

/// <summary>Asks the Scheduler for the stored state of a run; answered with <see cref="RunSnapshot"/> or <see cref="RunNotFound"/>.</summary>
/// <param name="StateOnly">
/// Only the run's own state: the answer's <c>Tasks</c> is empty. For a client that asks, while it waits, whether the run
/// has ended: the full answer of a 100,000-task run is tens of megabytes, and costs the Scheduler as much to build.
/// </param>
/// <param name="TaskOffset">The first task in the answer, counted from 0 in the run's task order; with <paramref name="TaskLimit"/>, a page.</param>
/// <param name="TaskLimit">
/// At most this many tasks in the answer (at least 1); omitted, every task from <paramref name="TaskOffset"/> on. A run's
/// tasks are read a page at a time (the CLI asks 5,000 at once) so that no answer of a big run is one huge message:
/// RabbitMQ refuses a message over its <c>max_message_size</c>, and each side holds the whole of one in memory.
/// </param>
public sealed record GetRun(Guid RunId, bool StateOnly = false, int TaskOffset = 0, int? TaskLimit = null);

/// <summary>The run id is not in the Scheduler's store.</summary>
public sealed record RunNotFound(Guid RunId);

/// <summary>The stored state of a run and of each of its tasks, in the flow's task order.</summary>
/// <param name="Tasks">The tasks asked for: every one, or a page of them (see <see cref="GetRun"/>).</param>
/// <param name="TaskCount">How many tasks the run has, mapped tasks' children included: where a client that reads pages stops.</param>
/// <param name="ParentRunId">For a subflow run, the run whose task <paramref name="ParentTask"/> started it.</param>
public sealed record RunSnapshot(
    Guid RunId,
    string Flow,
    string Version,
    RunState State,
    DateTimeOffset CreatedAt,
    DateTimeOffset? FinishedAt,
    string? FailedTask,
    string? Error,
    IReadOnlyList<TaskSnapshot> Tasks,
    Guid? ParentRunId = null,
    string? ParentTask = null,
    int TaskCount = 0);

/// <summary>The stored state of one task of a run.</summary>
/// <param name="HasDownstream">Whether other tasks wait for this one; the results of those nothing waits for are the run's outputs.</param>
/// <param name="SubflowRunId">For a subflow task that was released, the run its latest attempt started.</param>
public sealed record TaskSnapshot(
    string Slug,
    string TaskType,
    bool HasDownstream,
    TaskState State,
    int Attempt,
    JsonElement? Result,
    string? ErrorType,
    string? Error,
    string? Worker,
    DateTimeOffset? ReadyAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    IReadOnlyList<AttemptSnapshot>? PastAttempts = null,
    DateTimeOffset? RetryAt = null,
    Guid? SubflowRunId = null);

/// <summary>An attempt of a task that ended without completing it, followed by another attempt or by the task's end.</summary>
public sealed record AttemptSnapshot(
    int Attempt,
    AttemptOutcome Outcome,
    string? ErrorType,
    string? Error,
    string? Worker,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt);

using System.Text.Json;

namespace Lume.Contracts;

/// <summary>
/// An attempt of a task whose upstream tasks are all done, with its inputs resolved to JSON values.
/// <paramref name="Token"/> is known only to the Scheduler and to the worker that takes this message: a report of the
/// attempt is accepted only when it carries it back.
/// </summary>
/// <param name="TimeoutSeconds">How long the attempt may run; the worker cancels it then and reports it timed out. Null: no limit.</param>
/// <param name="SentAgain">
/// The Scheduler sent this attempt again because it could not tell whether the first copy went out (it stopped, or a
/// send failed, between sending and recording it). A worker treats it as a redelivered copy: it never runs it, but
/// claims the attempt (<see cref="ClaimAttempt"/>), so that an attempt whose first copy did go out runs only once.
/// </param>
public sealed record TaskReady(
    Guid RunId,
    string Flow,
    string TaskSlug,
    string TaskType,
    int Attempt,
    Guid Token,
    IReadOnlyDictionary<string, JsonElement> Inputs,
    DateTimeOffset ReadyAt,
    double? TimeoutSeconds = null,
    bool SentAgain = false);

/// <summary>
/// Several attempts of one run's tasks, each as its own <see cref="TaskReady"/>, in one message: the Scheduler sends a
/// batch only of tasks whose type it has seen run quickly (a few milliseconds of expected work in all), so that a
/// fan-out of thousands of short tasks costs tens of messages, not thousands. A worker takes a batch as one of its
/// slots and runs its tasks one after another, each reported as if it had come alone; a task that runs longer than
/// <see cref="TaskBatches.HoldNextFor"/> stops holding the next ones back, so one slow task never holds the rest hostage.
/// </summary>
public sealed record TasksReady(IReadOnlyList<TaskReady> Tasks);

/// <summary>
/// Reports of attempts of one run that ended on one worker at about the same time, in one message: a worker sends each
/// report as soon as it can, and those that end while the one before is being sent go out together. A result that
/// travels by claim check (<see cref="TaskCompleted.ResultData"/>) is reported alone, in TaskCompleted.
/// </summary>
public sealed record TaskReports(IReadOnlyList<TaskCompleted> Completed, IReadOnlyList<TaskFailed> Failed)
{
    /// <summary>The run a report (TaskCompleted or TaskFailed) belongs to.</summary>
    public static Guid RunOf(object report) => report switch
    {
        TaskCompleted completed => completed.RunId,
        TaskFailed failed => failed.RunId,
        _ => throw new ArgumentException($"not a task report: {report.GetType().Name}", nameof(report)),
    };
}

/// <summary>Limits of <see cref="TasksReady"/> and <see cref="TaskReports"/>.</summary>
public static class TaskBatches
{
    /// <summary>The most tasks in one TasksReady, and reports in one TaskReports.</summary>
    public const int MaxTasks = 100;

    /// <summary>The most JSON (inputs, or results) in one batch; a task or report larger than this travels alone.</summary>
    public const int MaxBytes = 1 << 20;

    /// <summary>How much expected work (from the task type's recent attempts) one TasksReady may carry.</summary>
    public static readonly TimeSpan ExpectedWork = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// The least expected work a TasksReady is packed with when there are fewer quick tasks than workers could share:
    /// a message costs the broker, the Scheduler and a worker about a millisecond, so splitting less work gains nothing.
    /// </summary>
    public static readonly TimeSpan LeastWork = TimeSpan.FromMilliseconds(1);

    /// <summary>How long a task of a TasksReady holds the next one back before that one starts anyway.</summary>
    public static readonly TimeSpan HoldNextFor = TimeSpan.FromMilliseconds(20);
}

/// <summary>A worker picked up a task, and it has been running for a while (or it has a timeout, which the Scheduler also watches).</summary>
public sealed record TaskStarted(Guid RunId, string TaskSlug, int Attempt, string Worker, DateTimeOffset StartedAt);

/// <summary>A task returned; its result is JSON, at most <see cref="TaskLimits.MaxResultBytes"/> long.</summary>
/// <param name="ResultData">
/// A result over <see cref="TaskLimits.InlineResultBytes"/> travels by claim check (MassTransit message data, in the
/// folder the services share) as its UTF-8 JSON; <paramref name="Result"/> is then JSON null.
/// </param>
public sealed record TaskCompleted(
    Guid RunId,
    string TaskSlug,
    int Attempt,
    Guid Token,
    JsonElement Result,
    string Worker,
    DateTimeOffset StartedAt,
    DateTimeOffset FinishedAt,
    MassTransit.MessageData<byte[]>? ResultData = null);

/// <summary>A task threw, timed out, or could not be run at all.</summary>
/// <param name="ErrorType">The exception's type name, or a name of <see cref="TaskErrors"/>.</param>
/// <param name="Retryable">Whether running the task again could succeed (a transient fault) or not (bad input).</param>
/// <param name="StartedAt">When the worker started the attempt; null when it never ran (or the sender does not say). A quick failure has no TaskStarted before it, so without this the task would have no start time.</param>
public sealed record TaskFailed(
    Guid RunId,
    string TaskSlug,
    int Attempt,
    Guid Token,
    string ErrorType,
    string Message,
    bool Retryable,
    string Worker,
    DateTimeOffset FinishedAt,
    DateTimeOffset? StartedAt = null);

/// <summary>
/// A worker got a TaskReady that the broker delivered again (after a connection to it was lost): its first holder may
/// still be running it. The copy is not run; the Scheduler says whether to drop it or ask again later, and once no live
/// worker holds the attempt it releases a new attempt in its place. Answered with <see cref="AttemptClaimed"/>.
/// </summary>
public sealed record ClaimAttempt(Guid RunId, string TaskSlug, int Attempt, Guid Token, string Worker);

/// <summary>What a worker does with a redelivered attempt; it never runs it.</summary>
public enum ClaimDecision
{
    /// <summary>Drop it: the attempt ended, or a newer attempt replaces it.</summary>
    Skip,

    /// <summary>Ask again shortly: a worker that was heard from lately holds it.</summary>
    Wait,
}

/// <summary>The answer to <see cref="ClaimAttempt"/>.</summary>
public sealed record AttemptClaimed(ClaimDecision Decision, string Reason);

/// <summary>An attempt a worker is running, as its heartbeat lists it.</summary>
public sealed record HeldAttempt(Guid RunId, string TaskSlug, int Attempt);

/// <summary>Error types that Lume itself gives a task attempt.</summary>
public static class TaskErrors
{
    /// <summary>The attempt ran past its timeout (on the worker, or on a worker that stopped answering).</summary>
    public const string TimedOut = "TimedOut";

    /// <summary>A task that never ran because a task upstream of it failed (its state is skipped).</summary>
    public const string UpstreamFailed = "UpstreamFailed";

    /// <summary>A task whose trigger was not met by the states of its upstream tasks (its state is trigger_failed).</summary>
    public const string TriggerFailed = "TriggerFailed";

    /// <summary>The task's result is larger than <see cref="TaskLimits.MaxResultBytes"/>.</summary>
    public const string ResultTooLarge = "ResultTooLarge";

    /// <summary>A service the task asked (FileService, Results) did not answer in time: worth another attempt.</summary>
    public const string ServiceUnavailable = "ServiceUnavailable";

    /// <summary>A mapped task's mapped arguments were not lists of one length (or were too long): no child ran.</summary>
    public const string MappingError = "MappingError";

    /// <summary>A subflow task whose run failed, was cancelled, or was refused (unknown flow, bad parameters).</summary>
    public const string SubflowFailed = "SubflowFailed";

    /// <summary>A mapped task one of whose children failed (the error names the first).</summary>
    public const string MappedTaskFailed = "MappedTaskFailed";
}

/// <summary>Limits of task messages.</summary>
public static class TaskLimits
{
    /// <summary>
    /// A task result travels in TaskCompleted and in the TaskReady of every task that takes it: 1 MiB of JSON at most.
    /// Larger data goes in a file (<c>save_file</c>) or a stored result (<c>save_db_result</c>), whose rep is the result.
    /// </summary>
    public const int MaxResultBytes = 1 << 20;

    /// <summary>A result larger than this (64 KiB) leaves its worker by claim check rather than inside TaskCompleted.</summary>
    public const int InlineResultBytes = 64 << 10;
}

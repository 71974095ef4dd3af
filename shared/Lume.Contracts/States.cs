using System.Text.Json;
using System.Text.Json.Serialization;

namespace Lume.Contracts;

/// <summary>
/// How the contracts' enums travel: as lower snake-case names (<c>task_failed</c>, <c>timed_out</c>), never as numbers, so
/// a client in another language reads them without a table of numbers, and adding a member never renumbers the others.
/// A number is refused when read.
/// </summary>
public sealed class WireEnumConverter<TEnum>() : JsonStringEnumConverter<TEnum>(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false)
    where TEnum : struct, Enum
{
    /// <summary>The name <paramref name="value"/> has on the wire.</summary>
    public static string Name(TEnum value) => JsonNamingPolicy.SnakeCaseLower.ConvertName(value.ToString());
}

/// <summary>Where a run is. Everything but Running is final. On the wire: <c>running</c>, <c>completed</c>, <c>failed</c>, <c>cancelled</c>.</summary>
[JsonConverter(typeof(WireEnumConverter<RunState>))]
public enum RunState
{
    Running,
    Completed,
    Failed,
    Cancelled,
}

/// <summary>
/// Where a task of a run is. Completed, Cached, Failed, TimedOut, Skipped, TriggerFailed and Cancelled are final. On the wire in
/// lower snake case: <c>pending</c>, <c>ready</c>, ..., <c>timed_out</c>, <c>trigger_failed</c>.
/// </summary>
[JsonConverter(typeof(WireEnumConverter<TaskState>))]
public enum TaskState
{
    /// <summary>Waiting for upstream tasks.</summary>
    Pending,

    /// <summary>An attempt was released to the workers; none has reported it running yet.</summary>
    Ready,

    /// <summary>A worker reported the attempt started.</summary>
    Running,

    /// <summary>An attempt failed and the next one waits for its retry delay (<see cref="TaskSnapshot.RetryAt"/>).</summary>
    Retrying,
    Completed,
    Failed,

    /// <summary>The last attempt ran past the task's timeout.</summary>
    TimedOut,

    /// <summary>Never run, because a task upstream of it failed or was skipped (its error type is <see cref="TaskErrors.UpstreamFailed"/>).</summary>
    Skipped,

    /// <summary>The run was cancelled before the task ended.</summary>
    Cancelled,

    /// <summary>Never run: the states of its upstream tasks did not meet its trigger.</summary>
    TriggerFailed,

    /// <summary>A manual_only task whose upstream tasks completed: it waits for someone to approve it.</summary>
    Paused,

    /// <summary>The Scheduler is looking the task's cache key up (a task with a cache key).</summary>
    Checking,

    /// <summary>Completed at once with a result its cache held; counts as completed everywhere.</summary>
    Cached,

    /// <summary>A mapped task whose children (<c>slug[0]</c>, ...) run; it ends when they all have, with the list of their results.</summary>
    Mapped,
}

/// <summary>How an attempt that did not complete its task ended. On the wire: <c>failed</c>, <c>timed_out</c>, <c>lost</c>.</summary>
[JsonConverter(typeof(WireEnumConverter<AttemptOutcome>))]
public enum AttemptOutcome
{
    /// <summary>The task threw, or reported failure.</summary>
    Failed,

    /// <summary>The attempt ran past the task's timeout.</summary>
    TimedOut,

    /// <summary>Its worker went away while it held the attempt.</summary>
    Lost,
}

namespace Lume.Hosting;

/// <summary>The queue names services agree on. Every service owns its queue; workers of one pool share theirs.</summary>
public static class LumeQueues
{
    /// <summary>The Scheduler's queue for runs started, cancelled and approved, requests, and workers' claims and heartbeats.</summary>
    public const string Scheduler = "lume-scheduler";

    /// <summary>The Scheduler's queue for the workers' task events (TaskStarted, TaskCompleted, TaskFailed, TaskReports), apart so that a backlog of them never delays a control message.</summary>
    public const string SchedulerEvents = "lume-scheduler-events";
    public const string Files = "lume-files";
    public const string Results = "lume-results";
    public const string DefaultPool = "default";

    /// <summary>The queue the workers of <paramref name="pool"/> compete on: <c>lume-tasks</c> for the default pool, <c>lume-tasks-{pool}</c> otherwise.</summary>
    public static string Tasks(string pool) => pool == DefaultPool ? "lume-tasks" : $"lume-tasks-{pool}";

    /// <summary>The send address of a queue, valid on every transport.</summary>
    public static Uri Address(string queue) => new($"queue:{queue}");
}

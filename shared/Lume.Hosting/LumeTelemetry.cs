using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Lume.Hosting;

/// <summary>Lume's own spans and metrics, beside MassTransit's. Tags use the <c>lume.</c> prefix.</summary>
public static class LumeTelemetry
{
    public const string Name = "Lume";

    public static readonly ActivitySource Source = new(Name);

    static readonly Meter Meter = new(Name);

    public static readonly Counter<long> RunsStarted = Meter.CreateCounter<long>("lume.runs.started", description: "Runs accepted by the Scheduler");
    public static readonly Counter<long> RunsCompleted = Meter.CreateCounter<long>("lume.runs.completed", description: "Runs whose every task completed");
    public static readonly Counter<long> RunsFailed = Meter.CreateCounter<long>("lume.runs.failed", description: "Runs that failed or were rejected");
    public static readonly Counter<long> RunsCancelled = Meter.CreateCounter<long>("lume.runs.cancelled", description: "Runs cancelled by a request or by their timeout");
    public static readonly Counter<long> EventsDropped = Meter.CreateCounter<long>(
        "lume.scheduler.events_dropped", description: "Events the Scheduler did not apply (unknown run, stale attempt, forged or oversized report), by reason");
    public static readonly Counter<long> TasksRetriedByPolicy = Meter.CreateCounter<long>("lume.tasks.retries", description: "Attempts that failed or timed out and are followed by another");
    public static readonly UpDownCounter<long> RunsInProgress = Meter.CreateUpDownCounter<long>("lume.runs.in_progress", description: "Runs accepted and not yet finished");
    public static readonly Counter<long> TasksStarted = Meter.CreateCounter<long>("lume.tasks.started", description: "Task executions begun by workers");
    public static readonly Counter<long> TasksCompleted = Meter.CreateCounter<long>("lume.tasks.completed", description: "Task executions that returned a result");
    public static readonly Counter<long> TasksFailed = Meter.CreateCounter<long>("lume.tasks.failed", description: "Task executions that threw");
    public static readonly Counter<long> TasksRetried = Meter.CreateCounter<long>("lume.tasks.retried", description: "Task executions of a TaskReady delivered again (a worker died or stopped mid-task)");
    public static readonly Histogram<double> TaskDuration = Meter.CreateHistogram<double>("lume.task.duration", "s", "Time a task took on its worker");
    public static readonly Histogram<double> TaskQueueWait = Meter.CreateHistogram<double>("lume.task.queue_wait", "s", "Time from TaskReady to a worker starting the task");

    /// <summary>Tags that say which run and task something belongs to.</summary>
    public static TagList Tags(string flow, string? taskType = null)
    {
        var tags = new TagList { { "lume.flow", flow } };
        if (taskType is not null)
            tags.Add("lume.task_type", taskType);
        return tags;
    }
}

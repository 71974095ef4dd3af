using System.Diagnostics;
using Lume.Contracts;
using Lume.Hosting;

namespace Lume.Scheduler.Runs;

/// <summary>What the Scheduler reports about a run when it ends.</summary>
static class RunTelemetry
{
    /// <summary>
    /// The run's own span, from its acceptance to its end, in the run's trace (under the span of its request), and
    /// the run metrics. Made once the end is stored, since no process lives as long as a run is guaranteed to.
    /// </summary>
    public static void RecordEnd(RunRecord run)
    {
        var tags = LumeTelemetry.Tags(run.Flow.Name);
        LumeTelemetry.RunsInProgress.Add(-1, tags);
        (run.State == RunState.Completed ? LumeTelemetry.RunsCompleted : LumeTelemetry.RunsFailed).Add(1, tags);
        if (run.TraceParent is null || !ActivityContext.TryParse(run.TraceParent, null, out var parent))
            return;
        using var activity = LumeTelemetry.Source.StartActivity($"run {run.Flow.Name}", ActivityKind.Internal, parent, startTime: run.CreatedAt);
        if (activity is null)
            return;
        activity.SetTag("lume.run_id", run.RunId.ToString());
        activity.SetTag("lume.flow", run.Flow.Name);
        activity.SetTag("lume.flow_version", run.Flow.Version);
        activity.SetTag("lume.state", WireEnumConverter<RunState>.Name(run.State));
        activity.SetTag("lume.task_count", run.Tasks.Count);
        if (run.State == RunState.Failed)
            activity.SetStatus(ActivityStatusCode.Error, $"task '{run.FailedTask}' failed: {run.Error}");
        activity.SetEndTime(run.FinishedAt!.Value.UtcDateTime); // a finished run always has its end time
    }
}

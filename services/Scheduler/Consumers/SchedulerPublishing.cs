using System.Diagnostics;
using Lume.Contracts;
using Lume.Hosting;
using Lume.Scheduler.Runs;
using MassTransit;

namespace Lume.Scheduler.Consumers;

/// <summary>The load-apply-store-publish cycle that every task event of a run goes through.</summary>
static class SchedulerPublishing
{
    /// <summary>Sends each TaskReady to the queue of the run's worker pool and publishes the events.</summary>
    public static async Task PublishAllAsync(ConsumeContext context, RunRecord run, IReadOnlyList<object> messages)
    {
        ISendEndpoint? tasks = null;
        foreach (var message in messages)
        {
            if (message is TaskReady ready)
            {
                tasks ??= await context.GetSendEndpoint(LumeQueues.Address(LumeQueues.Tasks(run.Pool)));
                await tasks.Send(ready, context.CancellationToken);
            }
            else
            {
                await context.Publish(message, message.GetType(), context.CancellationToken);
            }
        }
    }

    /// <summary>
    /// The run's own span, from its acceptance to its end, in the run's trace (under the span of its request), and
    /// the run metrics. Made once the end is stored, since no process lives as long as a run is guaranteed to.
    /// </summary>
    static void RecordRunEnd(RunRecord run)
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
        activity.SetTag("lume.state", run.State.ToString().ToLowerInvariant());
        activity.SetTag("lume.task_count", run.Tasks.Count);
        if (run.State == RunState.Failed)
            activity.SetStatus(ActivityStatusCode.Error, $"task '{run.FailedTask}' failed: {run.Error}");
        activity.SetEndTime(run.FinishedAt!.Value.UtcDateTime); // a finished run always has its end time
    }

    /// <summary>
    /// Applies an event to its stored run. Changes are stored before anything is published (the endpoint's
    /// in-memory outbox holds the messages until the consumer returns). A repeated delivery changes nothing, but
    /// when the broker marks it redelivered, the messages it caused are published again, as a crash may have
    /// come between the store and the publish.
    /// </summary>
    public static async Task ApplyAsync(
        ConsumeContext context, IRunStore store, Guid runId, string taskSlug, DateTimeOffset now, Func<RunRecord, Step> apply)
    {
        var run = await store.FindAsync(runId, context.CancellationToken);
        if (run is null)
            return;
        var step = apply(run);
        if (step.Changed)
        {
            await store.UpdateAsync(run, context.CancellationToken);
            if (run.IsFinished)
                RecordRunEnd(run);
            await PublishAllAsync(context, run, step.Messages);
        }
        else
        {
            // An event that no longer applies (a duplicate, or a TaskStarted overtaken by its TaskCompleted) leaves the run as it was.
            store.Return(run);
            if (context.ReceiveContext.Redelivered)
                await PublishAllAsync(context, run, RunProgression.Resume(run, taskSlug, now));
        }
    }
}

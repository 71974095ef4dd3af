using Lume.Contracts;
using Lume.Scheduler.Runs;
using MassTransit;

namespace Lume.Scheduler.Consumers;

/// <summary>Marks a task running.</summary>
public sealed class TaskStartedConsumer(ActiveRuns runs, TimeProvider time) : IConsumer<TaskStarted>
{
    public Task Consume(ConsumeContext<TaskStarted> context) =>
        SchedulerPublishing.ApplyAsync(context, runs, context.Message.RunId, context.Message.TaskSlug, time.GetUtcNow(),
            run => RunProgression.TaskStarted(run, context.Message));
}

/// <summary>Records a result and releases the tasks it unblocks.</summary>
public sealed class TaskCompletedConsumer(ActiveRuns runs, TimeProvider time) : IConsumer<TaskCompleted>
{
    public Task Consume(ConsumeContext<TaskCompleted> context)
    {
        var now = time.GetUtcNow();
        return SchedulerPublishing.ApplyAsync(context, runs, context.Message.RunId, context.Message.TaskSlug, now,
            run => RunProgression.TaskCompleted(run, context.Message, now));
    }
}

/// <summary>Records a failure and skips what depends on it.</summary>
public sealed class TaskFailedConsumer(ActiveRuns runs, TimeProvider time) : IConsumer<TaskFailed>
{
    public Task Consume(ConsumeContext<TaskFailed> context)
    {
        var now = time.GetUtcNow();
        return SchedulerPublishing.ApplyAsync(context, runs, context.Message.RunId, context.Message.TaskSlug, now,
            run => RunProgression.TaskFailed(run, context.Message, now));
    }
}

/// <summary>Answers with the most recent runs.</summary>
public sealed class ListRunsConsumer(IRunStore store) : IConsumer<ListRuns>
{
    public async Task Consume(ConsumeContext<ListRuns> context)
    {
        var runs = await store.ListAsync(Math.Clamp(context.Message.Limit, 1, 1000), context.CancellationToken);
        await context.RespondAsync(new RunList(runs.Select(r => new RunListEntry(
            r.RunId, r.Flow, r.Version, r.State.ToString().ToLowerInvariant(), r.CreatedAt, r.FinishedAt)).ToArray()));
    }
}

/// <summary>Answers with the state of a run, as stored, taken between two batches of its events.</summary>
public sealed class GetRunConsumer(ActiveRuns runs) : IConsumer<GetRun>
{
    public async Task Consume(ConsumeContext<GetRun> context)
    {
        RunSnapshot? snapshot = null;
        await runs.ApplyAsync(context.Message.RunId, run =>
        {
            snapshot = Snapshot(run);
            return Step.Unchanged;
        });
        await (snapshot is null ? context.RespondAsync(new RunNotFound(context.Message.RunId)) : context.RespondAsync(snapshot));
    }

    static RunSnapshot Snapshot(RunRecord run) => new(
        run.RunId, run.Flow.Name, run.Flow.Version, run.State.ToString().ToLowerInvariant(), run.CreatedAt, run.FinishedAt,
        run.FailedTask, run.Error,
        run.OrderedTasks.Select(t => new TaskSnapshot(
            t.Slug, t.Type, run.DownstreamOf(t.Slug).Count > 0, t.State.ToString().ToLowerInvariant(), t.Attempt, t.Result, t.ErrorType, t.Error, t.Worker,
            t.ReadyAt, t.StartedAt, t.FinishedAt)).ToArray());
}

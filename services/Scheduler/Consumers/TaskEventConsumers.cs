using Lume.Contracts;
using Lume.Scheduler.Runs;
using MassTransit;

namespace Lume.Scheduler.Consumers;

/// <summary>Marks a task running.</summary>
public sealed class TaskStartedConsumer(RunPipeline pipeline) : IConsumer<TaskStarted>
{
    public Task Consume(ConsumeContext<TaskStarted> context) => pipeline.ApplyAsync(context, context.Message.RunId, context.Message);
}

/// <summary>Records a result and releases the tasks it unblocks.</summary>
public sealed class TaskCompletedConsumer(RunPipeline pipeline) : IConsumer<TaskCompleted>
{
    public Task Consume(ConsumeContext<TaskCompleted> context) => pipeline.ApplyAsync(context, context.Message.RunId, context.Message);
}

/// <summary>Ends an attempt that failed: retries it or fails the task.</summary>
public sealed class TaskFailedConsumer(RunPipeline pipeline) : IConsumer<TaskFailed>
{
    public Task Consume(ConsumeContext<TaskFailed> context) => pipeline.ApplyAsync(context, context.Message.RunId, context.Message);
}

/// <summary>Answers a worker that got an attempt delivered again: run it, drop it, or ask again shortly.</summary>
public sealed class ClaimAttemptConsumer(RunPipeline pipeline, Flows.WorkerDirectory workers, TimeProvider time) : IConsumer<ClaimAttempt>
{
    public async Task Consume(ConsumeContext<ClaimAttempt> context)
    {
        var claim = context.Message;
        var now = time.GetUtcNow();
        // Until every live worker has had time to be heard, any of them may hold the attempt.
        var holder = workers.HeardEveryone(now)
            ? workers.HolderOf(new HeldAttempt(claim.RunId, claim.TaskSlug, claim.Attempt), claim.Worker, now)
            : "(not heard from yet: this Scheduler has just started)";
        var attempt = new AttemptClaim(claim, holder, worker => workers.IsWorkerAlive(worker, now));
        var run = await pipeline.ApplyAsync(context, claim.RunId, attempt);
        await context.RespondAsync(attempt.Answer ?? new AttemptClaimed(ClaimDecision.Skip,
            run is null ? $"run {claim.RunId} is not known to the Scheduler" : "the claim was not decided"));
    }
}

/// <summary>Cancels a run; answers a request with the run's state afterwards, or RunNotFound.</summary>
public sealed class CancelRunConsumer(RunPipeline pipeline, ActiveRuns runs) : IConsumer<CancelRun>
{
    public async Task Consume(ConsumeContext<CancelRun> context)
    {
        await pipeline.ApplyAsync(context, context.Message.RunId, context.Message);
        if (context.RequestId is not null)
            await GetRunConsumer.RespondAsync(context, runs, context.Message.RunId);
    }
}

/// <summary>Answers with the most recent runs.</summary>
public sealed class ListRunsConsumer(IRunStore store) : IConsumer<ListRuns>
{
    public async Task Consume(ConsumeContext<ListRuns> context)
    {
        var runs = await store.ListAsync(Math.Clamp(context.Message.Limit, 1, 1000), context.CancellationToken);
        await context.RespondAsync(new RunList(runs.Select(r => new RunListEntry(
            r.RunId, r.Flow, r.Version, RunProgression.State(r.State), r.CreatedAt, r.FinishedAt)).ToArray()));
    }
}

/// <summary>Answers with the state of a run, as stored, taken between two batches of its events.</summary>
public sealed class GetRunConsumer(ActiveRuns runs) : IConsumer<GetRun>
{
    public Task Consume(ConsumeContext<GetRun> context) => RespondAsync(context, runs, context.Message.RunId);

    internal static async Task RespondAsync(ConsumeContext context, ActiveRuns runs, Guid runId)
    {
        RunSnapshot? snapshot = null;
        await runs.ApplyAsync(runId, run =>
        {
            snapshot = Snapshot(run);
            return Step.Unchanged;
        });
        await (snapshot is null ? context.RespondAsync(new RunNotFound(runId)) : context.RespondAsync(snapshot));
    }

    static RunSnapshot Snapshot(RunRecord run) => new(
        run.RunId, run.Flow.Name, run.Flow.Version, RunProgression.State(run.State), run.CreatedAt, run.FinishedAt,
        run.FailedTask, run.Error,
        run.OrderedTasks.Select(t => new TaskSnapshot(
            t.Slug, t.Type, run.Graph.DownstreamOf(t.Slug).Count > 0, RunProgression.State(t.State), t.Attempt, t.Result, t.ErrorType, t.Error,
            t.Worker, t.ReadyAt, t.StartedAt, t.FinishedAt,
            t.PastAttempts.Select(a => new AttemptSnapshot(a.Attempt, a.Outcome, a.ErrorType, a.Error, a.Worker, a.StartedAt, a.FinishedAt)).ToArray(),
            t.State == TaskState.Retrying ? t.DueAt : null)).ToArray());
}

using System.Text.Json;
using Lume.Contracts;
using Lume.Flows;
using Lume.Scheduler.Runs;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace Lume.Scheduler.Consumers;

/// <summary>Marks a task running.</summary>
public sealed class TaskStartedConsumer(RunPipeline pipeline) : IConsumer<TaskStarted>
{
    public Task Consume(ConsumeContext<TaskStarted> context) => pipeline.ApplyAsync(context, context.Message.RunId, context.Message);
}

/// <summary>Records a result (read from its claim check if it came by one) and releases the tasks it unblocks.</summary>
public sealed class TaskCompletedConsumer(RunPipeline pipeline, ILogger<TaskCompletedConsumer> logger) : IConsumer<TaskCompleted>
{
    public async Task Consume(ConsumeContext<TaskCompleted> context)
    {
        var report = context.Message;
        // MassTransit gives an absent claim check as one without a value.
        if (report.ResultData is { HasValue: true } data)
        {
            byte[] json;
            try
            {
                json = await data.Value;
            }
            catch (Exception e) when (e is MessageDataNotFoundException or FileNotFoundException)
            {
                // Forged, or swept before it was read: either way there is no result to record.
                logger.LogWarning("The claim check of task {TaskSlug}'s result in run {RunId} cannot be read ({Error}); the report is ignored",
                    report.TaskSlug, report.RunId, e.Message);
                return;
            }

            if (json.Length > TaskLimits.MaxResultBytes)
            {
                logger.LogWarning("The result of task {TaskSlug} in run {RunId} is {Size} bytes, over the limit of {Limit}; the report is ignored",
                    report.TaskSlug, report.RunId, json.Length, TaskLimits.MaxResultBytes);
                return;
            }

            report = report with { Result = JsonSerializer.Deserialize<JsonElement>(json), ResultData = null };
        }

        await pipeline.ApplyAsync(context, report.RunId, report);
    }
}

/// <summary>Ends an attempt that failed: retries it or fails the task.</summary>
public sealed class TaskFailedConsumer(RunPipeline pipeline) : IConsumer<TaskFailed>
{
    public Task Consume(ConsumeContext<TaskFailed> context) => pipeline.ApplyAsync(context, context.Message.RunId, context.Message);
}

/// <summary>Applies a worker's reports of one run's attempts that ended together: one change of the run, one store.</summary>
public sealed class TaskReportsConsumer(RunPipeline pipeline, ILogger<TaskReportsConsumer> logger) : IConsumer<TaskReports>
{
    public Task Consume(ConsumeContext<TaskReports> context)
    {
        var completed = context.Message.Completed ?? [];
        // A result by claim check travels alone, in TaskCompleted, whose consumer reads it: here it would read as null.
        var byClaimCheck = completed.Where(c => c.ResultData is { HasValue: true }).ToArray();
        foreach (var report in byClaimCheck)
            logger.LogWarning("Task {TaskSlug} of run {RunId} was reported with a claim check inside TaskReports; the report is ignored",
                report.TaskSlug, report.RunId);
        var events = completed.Except(byClaimCheck).Cast<object>().Concat(context.Message.Failed ?? []);
        // One run's reports as a rule; a message that mixes runs changes each of them.
        return Task.WhenAll(events.GroupBy(TaskReports.RunOf).Select(run => pipeline.ApplyAsync(context, run.Key, run.ToArray())));
    }
}

/// <summary>Answers a worker that got an attempt delivered again: run it, drop it, or ask again shortly.</summary>
public sealed class ClaimAttemptConsumer(RunPipeline pipeline, Flows.WorkerDirectory workers, TimeProvider time) : IConsumer<ClaimAttempt>
{
    public async Task Consume(ConsumeContext<ClaimAttempt> context)
    {
        var claim = context.Message;
        var now = time.GetUtcNow();
        // A claim nobody is heard holding is decided once every live worker has been heard since, and only once this
        // Scheduler has listened long enough to know them all (see TimersDue).
        var holder = workers.HolderOf(new HeldAttempt(claim.RunId, claim.TaskSlug, claim.Attempt), claim.Worker, now);
        var attempt = new AttemptClaim(claim, holder);
        var run = await pipeline.ApplyAsync(context, claim.RunId, attempt);
        if (context.RequestId is not null)
            await context.RespondAsync(attempt.Answer ?? new AttemptClaimed(ClaimDecision.Skip,
                run is null ? $"run {claim.RunId} is not known to the Scheduler" : "the claim was not decided"));
    }
}

/// <summary>Cancels a run; answers a request with the run's state afterwards, without its tasks (GetRun has them), or RunNotFound.</summary>
public sealed class CancelRunConsumer(RunPipeline pipeline, ActiveRuns runs) : IConsumer<CancelRun>
{
    public async Task Consume(ConsumeContext<CancelRun> context)
    {
        await pipeline.ApplyAsync(context, context.Message.RunId, context.Message);
        if (context.RequestId is not null)
            await GetRunConsumer.RespondAsync(context, runs, context.Message.RunId, (0, 0));
    }
}

/// <summary>Approves a task that waits for approval; answers with TaskApproval, or RunNotFound.</summary>
public sealed class ApproveTaskConsumer(RunPipeline pipeline) : IConsumer<ApproveTask>
{
    public async Task Consume(ConsumeContext<ApproveTask> context)
    {
        var request = context.Message;
        var approval = new Approval(request);
        var run = await pipeline.ApplyAsync(context, request.RunId, approval);
        if (context.RequestId is null)
            return;
        await (run is null
            ? context.RespondAsync(new RunNotFound(request.RunId))
            : context.RespondAsync(new TaskApproval(request.RunId, request.TaskSlug, approval.Refused is null,
                approval.Refused ?? $"task '{request.TaskSlug}' released to the workers")));
    }
}

/// <summary>Looks a task's cache key up and gives the answer to its run: a hit completes the task as cached.</summary>
public sealed class CheckCacheConsumer(ICacheStore cache, RunPipeline pipeline, TimeProvider time) : IConsumer<CheckCache>
{
    public async Task Consume(ConsumeContext<CheckCache> context)
    {
        var check = context.Message;
        var result = await cache.FindCachedAsync(check.Key, time.GetUtcNow(), context.CancellationToken);
        await pipeline.ApplyAsync(context, check.RunId, new CacheChecked(check.RunId, check.TaskSlug, check.Key, result));
    }
}

/// <summary>Keeps a cached task's fresh result for the next runs.</summary>
public sealed class StoreCacheConsumer(ICacheStore cache) : IConsumer<StoreCache>
{
    public Task Consume(ConsumeContext<StoreCache> context) => cache.SaveCachedAsync(context.Message, context.CancellationToken);
}

/// <summary>Answers with the most recent runs, of a flow and in a state when asked, with how many of their tasks are in each state.</summary>
public sealed class ListRunsConsumer(IRunStore store) : IConsumer<ListRuns>
{
    public async Task Consume(ConsumeContext<ListRuns> context)
    {
        var request = context.Message;
        var runs = await store.ListAsync(Math.Clamp(request.Limit, 1, 1000), request.Flow, request.State, context.CancellationToken);
        await context.RespondAsync(new RunList(runs.Select(r => new RunListEntry(
            r.RunId, r.Flow, r.Version, r.State, r.CreatedAt, r.FinishedAt,
            r.TaskCounts.Where(c => c.Value > 0).ToDictionary(c => WireEnumConverter<TaskState>.Name(c.Key), c => c.Value, StringComparer.Ordinal))).ToArray()));
    }
}

/// <summary>Answers with the graph of a served flow version (its tasks and what each waits for), or FlowNotFound.</summary>
public sealed class GetFlowGraphConsumer(Flows.FlowRegistry flows) : IConsumer<GetFlowGraph>
{
    public async Task Consume(ConsumeContext<GetFlowGraph> context)
    {
        var request = context.Message;
        var (found, problem) = await flows.FindAsync(request.Flow, request.Version, context.CancellationToken);
        if (found is null)
        {
            await context.RespondAsync(new FlowNotFound(request.Flow, request.Version, problem ?? $"flow '{request.Flow}' version '{request.Version}' is not served"));
            return;
        }

        var flow = found.Flow;
        // Contracts.FlowGraph: the Scheduler has a FlowGraph of its own (Runs.FlowGraph), the graph a run is progressed by.
        await context.RespondAsync(new Contracts.FlowGraph(flow.Name, flow.Version, flow.Tasks.Select(t => new FlowGraphTask(
            t.Slug, t.Type, FlowDefinition.UpstreamOf(t).ToArray(), t.IsMapped, t.Subflow?.Flow,
            // As the flow's JSON writes it (TriggerJsonConverter), so the graph and the definition name it alike.
            JsonSerializer.SerializeToElement(t.Trigger).GetString()!)).ToArray()));
    }
}

/// <summary>Answers with the state of a run, as stored, taken between two batches of its events.</summary>
public sealed class GetRunConsumer(ActiveRuns runs) : IConsumer<GetRun>
{
    public Task Consume(ConsumeContext<GetRun> context)
    {
        var request = context.Message;
        // A page out of range is an empty page, as a list's would be; a limit below 1 asks for one task.
        var tasks = request.StateOnly ? (0, 0) : (Math.Max(0, request.TaskOffset), request.TaskLimit is { } limit ? Math.Max(1, limit) : int.MaxValue);
        return RespondAsync(context, runs, request.RunId, tasks);
    }

    internal static async Task RespondAsync(ConsumeContext context, ActiveRuns runs, Guid runId, (int Offset, int Limit)? tasks = null)
    {
        RunSnapshot? snapshot = null;
        await runs.ApplyAsync(runId, run =>
        {
            snapshot = Snapshot(run, tasks ?? (0, int.MaxValue));
            return Step.Unchanged;
        });
        await (snapshot is null ? context.RespondAsync(new RunNotFound(runId)) : context.RespondAsync(snapshot));
    }

    // A mapped task's child counts as having a task downstream: it feeds its mapped task's list, not the run's outputs.
    static RunSnapshot Snapshot(RunRecord run, (int Offset, int Limit) page) => new(
        run.RunId, run.Flow.Name, run.Flow.Version, run.State, run.CreatedAt, run.FinishedAt,
        run.FailedTask, run.Error,
        page.Limit == 0 ? [] : run.OrderedTasksFrom(page.Offset).Take(page.Limit).Select(t => new TaskSnapshot(
            t.Slug, t.Type, t.Parent is not null || run.Graph.DownstreamOf(t.Slug).Count > 0, t.State, t.Attempt, t.Result, t.ErrorType, t.Error,
            t.Worker, t.ReadyAt, t.StartedAt, t.FinishedAt,
            t.PastAttempts.Select(a => new AttemptSnapshot(a.Attempt, a.Outcome, a.ErrorType, a.Error, a.Worker, a.StartedAt, a.FinishedAt)).ToArray(),
            t.State == TaskState.Retrying ? t.DueAt : null,
            run.Graph.Node(t.Slug).Subflow is not null && t.Attempt > 0 ? RunProgression.SubflowRunId(run.RunId, t.Slug, t.Attempt) : null)).ToArray(),
        run.Parent?.RunId, run.Parent?.Task, run.Tasks.Count);
}

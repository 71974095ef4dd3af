using System.Diagnostics;
using System.Text.Json;
using Lume.Contracts;
using Lume.Hosting;
using Lume.Flows;
using Lume.Scheduler.Flows;
using Lume.Scheduler.Runs;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace Lume.Scheduler.Consumers;

/// <summary>
/// Validates a run request, stores the run and releases its first tasks to the flow's worker pool. A bad
/// request (unknown flow, bad parameters, no live worker to run it) ends as RunFailed(Rejected) and stores nothing.
/// </summary>
public sealed class RunRequestedConsumer(
    FlowRegistry flows, WorkerDirectory workers, RunPipeline pipeline, IRunStore store, TimeProvider time, ILogger<RunRequestedConsumer> logger)
    : IConsumer<RunRequested>
{
    public async Task Consume(ConsumeContext<RunRequested> context)
    {
        var request = context.Message;
        var now = time.GetUtcNow();
        // The client names the run so that it can follow it; without a name nothing could be told apart, and a second
        // such request would look like a repeat of the first.
        if (request.RunId == Guid.Empty)
        {
            await RejectAsync(context, request, ["runId: the request has no run id; choose a new one (a random GUID) to follow the run by"], now);
            return;
        }

        // A run id the Scheduler knows is a repeat (a client resending after a lost answer): it starts nothing new.
        if (await store.FindAsync(request.RunId, context.CancellationToken) is { } known)
        {
            await RepeatedAsync(context, known);
            return;
        }

        // A request built by hand (another system's client, not Lume's) may leave fields out: no flow is a problem to
        // name; no parameters are none, so a flow whose parameters all have defaults runs.
        var problems = new List<string>();
        var (registered, unknown) = string.IsNullOrWhiteSpace(request.Flow)
            ? (null, "flow: the request names no flow")
            : await flows.FindAsync(request.Flow, request.Version, context.CancellationToken);
        if (unknown is not null)
            problems.Add(unknown);
        if (request.TimeoutSeconds is { } timeout && !(timeout > 0 && timeout <= FlowChecks.MaxSeconds))
            problems.Add($"timeout: must be above 0 and at most {FlowChecks.MaxSeconds} s, not {timeout}");
        var parameters = request.Parameters ?? NoParameters;
        if (registered is { Flow: var flow })
        {
            // The graph itself was checked when the flow was registered; only what this request brings is checked here.
            var checkedParameters = FlowChecks.CheckParameters(flow, parameters);
            problems.AddRange(checkedParameters.Problems);
            parameters = checkedParameters.Parameters;
            // Tasks sent to a pool nobody serves would wait in its queue forever; say so now instead.
            if (!workers.IsAlive(registered.Pool, now))
                problems.Add($"flow '{flow.Name}': no worker of pool '{registered.Pool}' is running " +
                    $"(last heard from {workers.LastSeen(registered.Pool)?.ToString("u") ?? "never"}); start one, then run again");
        }

        if (problems.Count > 0)
        {
            await RejectAsync(context, request, problems, now);
            return;
        }

        var (run, step) = RunProgression.Start(
            request.RunId, registered!.Flow, registered.Pool, parameters, now, Activity.Current?.Id, request.TimeoutSeconds, request.NoCache, request.Parent);
        if (await pipeline.CreateAsync(context, run, step, context.CancellationToken))
        {
            if (request.Parent is { } parent) // the parent task shows running, and its timeout is watched from now
                await context.Publish(new TaskStarted(parent.RunId, parent.Task, parent.Attempt, $"subflow run {run.RunId}", now));
            LumeTelemetry.RunsStarted.Add(1, LumeTelemetry.Tags(run.Flow.Name));
            LumeTelemetry.RunsInProgress.Add(1, LumeTelemetry.Tags(run.Flow.Name));
            logger.LogInformation("Run {RunId} of flow {Flow} {Version} accepted with {TaskCount} tasks for pool {Pool}",
                run.RunId, run.Flow.Name, run.Flow.Version, run.Flow.Tasks.Count, run.Pool);
            return;
        }

        // Created meanwhile by the same request delivered twice.
        if (await store.FindAsync(request.RunId, context.CancellationToken) is { } created)
            await RepeatedAsync(context, created);
    }

    static readonly IReadOnlyDictionary<string, JsonElement> NoParameters = new Dictionary<string, JsonElement>();

    // Nothing is stored. The client hears why, each problem naming the field, flow or parameter at fault.
    async Task RejectAsync(ConsumeContext<RunRequested> context, RunRequested request, List<string> problems, DateTimeOffset now)
    {
        logger.LogWarning("Run {RunId} of flow {Flow} rejected: {Problems}", request.RunId, request.Flow, problems);
        LumeTelemetry.RunsFailed.Add(1, new TagList { { "lume.flow", request.Flow }, { "lume.reason", "rejected" } });
        await context.Publish(new RunFailed(request.RunId, request.Flow, RunFailureKind.Rejected, null, "RunRejected",
            $"run request for flow '{request.Flow}' was rejected: {string.Join("; ", problems)}", problems, now));
        // A subflow's refusal is its parent task's failure: otherwise the parent run would wait for it forever.
        if (request.Parent is { } parent)
            await context.Publish(new TaskFailed(parent.RunId, parent.Task, parent.Attempt, parent.Token, TaskErrors.SubflowFailed,
                $"task '{parent.Task}': the subflow run of flow '{request.Flow}' was refused: {string.Join("; ", problems)}", false,
                $"subflow run {request.RunId}", now));
    }

    // Says again that the run is accepted, so a client that resent its request hears it, and sends what the first
    // delivery may not have sent before a crash. Its end, if it has ended, can be asked with GetRun.
    async Task RepeatedAsync(ConsumeContext<RunRequested> context, RunRecord run)
    {
        logger.LogDebug("Run {RunId} requested again; it exists, nothing new is started", run.RunId);
        await pipeline.ApplyAsync(context, run.RunId, ResendUnsent.Instance, repeated: false, context.CancellationToken);
        await context.Publish(new RunAccepted(run.RunId, run.Flow.Name, run.Flow.Version, run.Flow.Tasks.Count, run.CreatedAt));
    }
}

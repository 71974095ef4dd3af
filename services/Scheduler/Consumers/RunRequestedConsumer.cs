using Lume.Contracts;
using Lume.Flows;
using Lume.Scheduler.Runs;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace Lume.Scheduler.Consumers;

/// <summary>Validates a run request, stores the run and releases its first tasks; a bad request ends as RunFailed(Rejected) and stores nothing.</summary>
public sealed class RunRequestedConsumer(
    FlowCatalog flows, IRunStore store, TimeProvider time, ILogger<RunRequestedConsumer> logger) : IConsumer<RunRequested>
{
    public async Task Consume(ConsumeContext<RunRequested> context)
    {
        var request = context.Message;
        var now = time.GetUtcNow();
        var (flow, unknown) = flows.Find(request.Flow, request.Version);
        var problems = new List<string>();
        if (unknown is not null)
            problems.Add(unknown);
        var parameters = request.Parameters;
        if (flow is not null)
        {
            problems.AddRange(FlowChecks.CheckGraph(flow));
            var checkedParameters = FlowChecks.CheckParameters(flow, request.Parameters);
            problems.AddRange(checkedParameters.Problems);
            parameters = checkedParameters.Parameters;
        }

        if (problems.Count > 0)
        {
            logger.LogWarning("Run {RunId} of flow {Flow} rejected: {Problems}", request.RunId, request.Flow, problems);
            await context.Publish(new RunFailed(request.RunId, request.Flow, RunFailureKind.Rejected, null, "RunRejected",
                $"run request for flow '{request.Flow}' was rejected: {string.Join("; ", problems)}", problems, now));
            return;
        }

        var (run, step) = RunProgression.Start(request.RunId, flow!, parameters, now);
        if (await store.CreateAsync(run, context.CancellationToken))
        {
            logger.LogInformation("Run {RunId} of flow {Flow} {Version} accepted with {TaskCount} tasks", run.RunId, flow!.Name, flow.Version, flow.Tasks.Count);
            await SchedulerPublishing.PublishAllAsync(context, step.Messages);
            return;
        }

        // The run exists: this request is a repeat. If it is a redelivery after a crash, the first tasks may never have gone out.
        if (context.ReceiveContext.Redelivered && await store.FindAsync(request.RunId, context.CancellationToken) is { } stored)
            await SchedulerPublishing.PublishAllAsync(context, RunProgression.Resume(stored, null, now));
    }
}

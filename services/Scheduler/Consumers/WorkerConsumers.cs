using Lume.Contracts;
using Lume.Hosting;
using Lume.Scheduler.Flows;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace Lume.Scheduler.Consumers;

/// <summary>Stores the flows a worker host defines and notes its pool as alive.</summary>
public sealed class RegisterWorkerConsumer(FlowRegistry flows, WorkerDirectory workers, ILogger<RegisterWorkerConsumer> logger)
    : IConsumer<RegisterWorker>
{
    public async Task Consume(ConsumeContext<RegisterWorker> context)
    {
        var message = context.Message;
        var (definitions, problems) = await FlowTransfer.UnpackAsync(message.Flows, message.FlowsData, context.CancellationToken);

        workers.Seen(message.Pool, message.At);
        problems.AddRange(await flows.RegisterWorkerAsync(message.Pool, message.TaskTypes.ToHashSet(StringComparer.Ordinal), definitions, context.CancellationToken));
        logger.LogInformation("Worker {Worker} of pool {Pool} registered {FlowCount} flows and {TaskTypeCount} task types",
            message.Worker, message.Pool, definitions.Count, message.TaskTypes.Count);
        await context.RespondAsync(new WorkerRegistered(message.Worker, problems));
    }
}

/// <summary>Registers a flow from a file (<c>lume flows register</c>), checked against its pool's task types; answers with every problem, or none.</summary>
public sealed class RegisterFlowConsumer(FlowRegistry registry, ILogger<RegisterFlowConsumer> logger) : IConsumer<RegisterFlow>
{
    public async Task Consume(ConsumeContext<RegisterFlow> context)
    {
        var message = context.Message;
        var (flows, problems) = await FlowTransfer.UnpackAsync(
            message.FlowData is { HasValue: true } ? [] : [message.Flow], message.FlowData, context.CancellationToken);
        if (problems.Count > 0 || flows.Count != 1)
        {
            await context.RespondAsync(new FlowRegistration("", "", message.Pool, problems.Count > 0 ? problems : ["a flow registration carries one flow"]));
            return;
        }

        var flow = flows[0];
        problems = [.. await registry.RegisterFileFlowAsync(message.Pool, flow, context.CancellationToken)];
        if (problems.Count == 0)
            logger.LogInformation("Flow {Flow} {Version} registered for pool {Pool} from a file", flow.Name, flow.Version, message.Pool);
        await context.RespondAsync(new FlowRegistration(flow.Name, flow.Version, message.Pool, problems));
    }
}

/// <summary>Notes a worker's pool as alive, and the attempts it holds.</summary>
public sealed class WorkerHeartbeatConsumer(WorkerDirectory workers) : IConsumer<WorkerHeartbeat>
{
    public Task Consume(ConsumeContext<WorkerHeartbeat> context)
    {
        var heartbeat = context.Message;
        workers.Heard(heartbeat.Worker, heartbeat.Pool, heartbeat.At, heartbeat.Held);
        return Task.CompletedTask;
    }
}

/// <summary>Answers with the served flows.</summary>
public sealed class ListFlowsConsumer(FlowRegistry flows, WorkerDirectory workers, TimeProvider time) : IConsumer<ListFlows>
{
    public async Task Consume(ConsumeContext<ListFlows> context)
    {
        var served = context.Message.AllVersions
            ? await flows.ListAsync(context.CancellationToken)
            : await flows.LatestAsync(context.CancellationToken);
        var now = time.GetUtcNow();
        await context.RespondAsync(new FlowList(served.Select(f => new FlowInfo(
            f.Flow.Name,
            f.Flow.Version,
            f.Pool,
            f.Flow.Parameters.Select(p => new FlowParameterInfo(p.Name, p.Default, p.Default is null)).ToArray(),
            f.Flow.Tasks.Select(t => t.Slug).ToArray(),
            workers.IsAlive(f.Pool, now))).ToArray()));
    }
}

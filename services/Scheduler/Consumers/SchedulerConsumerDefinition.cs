using Lume.Contracts;
using Lume.Hosting;
using Lume.Scheduler.Runs;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace Lume.Scheduler.Consumers;

/// <summary>
/// Every Scheduler consumer shares one queue and one set of rules: events of one run are handled one at a
/// time (partitioned by run id), a lost optimistic-concurrency race is retried with fresh state, and
/// messages are released only after the consumer's store write (in-memory outbox).
/// </summary>
public abstract class SchedulerConsumerDefinition<TConsumer, TMessage>(Func<TMessage, Guid> runId) : ConsumerDefinition<TConsumer>
    where TConsumer : class, IConsumer<TMessage>
    where TMessage : class
{
    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator, IConsumerConfigurator<TConsumer> consumerConfigurator, IRegistrationContext context)
    {
        EndpointName = LumeQueues.Scheduler;
        consumerConfigurator.UseMessageRetry(r => r.Immediate(10).Handle<RunConcurrencyException>());
        consumerConfigurator.UseInMemoryOutbox(context);
        var partitioner = context.GetRequiredService<SchedulerPartitioner>().Partitioner;
        consumerConfigurator.Message<TMessage>(m => m.UsePartitioner(partitioner, c => runId(c.Message)));
    }
}

public sealed class RunRequestedDefinition() : SchedulerConsumerDefinition<RunRequestedConsumer, RunRequested>(m => m.RunId);

public sealed class TaskStartedDefinition() : SchedulerConsumerDefinition<TaskStartedConsumer, TaskStarted>(m => m.RunId);

public sealed class TaskCompletedDefinition() : SchedulerConsumerDefinition<TaskCompletedConsumer, TaskCompleted>(m => m.RunId);

public sealed class TaskFailedDefinition() : SchedulerConsumerDefinition<TaskFailedConsumer, TaskFailed>(m => m.RunId);

public sealed class GetRunDefinition() : SchedulerConsumerDefinition<GetRunConsumer, GetRun>(m => m.RunId);

// Messages about no run in particular share one partition; they are few and quick.
public sealed class ListRunsDefinition() : SchedulerConsumerDefinition<ListRunsConsumer, ListRuns>(_ => Guid.Empty);

public sealed class RegisterWorkerDefinition() : SchedulerConsumerDefinition<RegisterWorkerConsumer, RegisterWorker>(_ => Guid.Empty);

public sealed class WorkerHeartbeatDefinition() : SchedulerConsumerDefinition<WorkerHeartbeatConsumer, WorkerHeartbeat>(_ => Guid.Empty);

public sealed class ListFlowsDefinition() : SchedulerConsumerDefinition<ListFlowsConsumer, ListFlows>(_ => Guid.Empty);

/// <summary>One partitioner for the whole Scheduler endpoint, so that all events of a run land in the same partition.</summary>
public sealed class SchedulerPartitioner
{
    public IPartitioner Partitioner { get; } =
        new MassTransit.Middleware.Partitioner(Environment.ProcessorCount * 4, new MassTransit.Middleware.Murmur3UnsafeHashGenerator());
}

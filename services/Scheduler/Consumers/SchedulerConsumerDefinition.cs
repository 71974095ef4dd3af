using Lume.Contracts;
using Lume.Scheduler.Runs;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace Lume.Scheduler.Consumers;

/// <summary>
/// Every Scheduler consumer shares one queue and one set of rules: events of one run are handled one at a
/// time (partitioned by run id), a lost optimistic-concurrency race is retried with fresh state, and
/// messages are released only after the consumer's store write (in-memory outbox).
/// </summary>
public sealed class SchedulerConsumerDefinition<TConsumer> : ConsumerDefinition<TConsumer>
    where TConsumer : class, IConsumer
{
    public const string QueueName = "lume-scheduler";

    public SchedulerConsumerDefinition() => EndpointName = QueueName;

    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator, IConsumerConfigurator<TConsumer> consumerConfigurator, IRegistrationContext context)
    {
        consumerConfigurator.UseMessageRetry(r => r.Immediate(10).Handle<RunConcurrencyException>());
        consumerConfigurator.UseInMemoryOutbox(context);
        var partitioner = context.GetRequiredService<SchedulerPartitioner>().Partitioner;
        consumerConfigurator.Message<RunRequested>(m => m.UsePartitioner(partitioner, c => c.Message.RunId));
        consumerConfigurator.Message<TaskStarted>(m => m.UsePartitioner(partitioner, c => c.Message.RunId));
        consumerConfigurator.Message<TaskCompleted>(m => m.UsePartitioner(partitioner, c => c.Message.RunId));
        consumerConfigurator.Message<TaskFailed>(m => m.UsePartitioner(partitioner, c => c.Message.RunId));
    }
}

/// <summary>One partitioner for the whole Scheduler endpoint, so that all events of a run land in the same partition.</summary>
public sealed class SchedulerPartitioner
{
    public IPartitioner Partitioner { get; } = new MassTransit.Middleware.Partitioner(Environment.ProcessorCount * 4, new MassTransit.Middleware.Murmur3UnsafeHashGenerator());
}

using Lume.Contracts;
using Lume.Hosting;
using MassTransit;
using Microsoft.Extensions.Options;

namespace Lume.Worker;

/// <summary>Runs a task that comes alone (see <see cref="TaskRunner"/>); acknowledged once its report has gone out.</summary>
public sealed class TaskReadyConsumer(TaskRunner runner, HeldAttempts held) : IConsumer<TaskReady>
{
    public async Task Consume(ConsumeContext<TaskReady> context)
    {
        using var delivery = held.Receive();
        await await runner.RunAsync(context.Message, context.ReceiveContext.Redelivered, context);
    }
}

/// <summary>
/// Runs the tasks of a batch in one slot, one after another (see <see cref="TasksReady"/>); one that runs longer than
/// <see cref="TaskBatches.HoldNextFor"/> goes on beside the next. Their reports go together once the batch has run, or
/// that long after it started (<see cref="ReportSender.Together"/>). Acknowledged once every report has gone out.
/// </summary>
public sealed class TasksReadyConsumer(TaskRunner runner, HeldAttempts held, ReportSender reports, TimeProvider time) : IConsumer<TasksReady>
{
    public async Task Consume(ConsumeContext<TasksReady> context)
    {
        using var delivery = held.Receive();
        var reported = new List<Task>(context.Message.Tasks.Count);
        using (var together = reports.HoldTogether())
        await using (time.CreateTimer(_ => together.Dispose(), null, TaskBatches.HoldNextFor, Timeout.InfiniteTimeSpan))
        {
            foreach (var ready in context.Message.Tasks)
            {
                var running = runner.RunAsync(ready, context.ReceiveContext.Redelivered, context, together: together);
                if (!running.IsCompleted)
                    await Task.WhenAny(running, Task.Delay(TaskBatches.HoldNextFor, time));
                reported.Add(running.Unwrap());
            }
        }

        await Task.WhenAll(reported);
    }
}

/// <summary>
/// The workers of a pool compete on its queue; each takes as many messages at once as <see cref="WorkerOptions.Concurrency"/>
/// allows and prefetches no more, so a slow worker does not sit on tasks that an idle one could run. A batch of quick
/// tasks takes one slot, like a task that comes alone.
/// </summary>
public sealed class TaskReadyConsumerDefinition : ConsumerDefinition<TaskReadyConsumer>
{
    readonly int _concurrency;

    public TaskReadyConsumerDefinition(IOptions<WorkerOptions> options)
    {
        EndpointName = LumeQueues.Tasks(options.Value.Pool);
        _concurrency = options.Value.Concurrency;
    }

    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator, IConsumerConfigurator<TaskReadyConsumer> consumerConfigurator, IRegistrationContext context)
    {
        endpointConfigurator.PrefetchCount = _concurrency;
        endpointConfigurator.ConcurrentMessageLimit = _concurrency;
    }
}

/// <summary>On the pool's queue with <see cref="TaskReadyConsumer"/>, sharing its slots.</summary>
public sealed class TasksReadyConsumerDefinition : ConsumerDefinition<TasksReadyConsumer>
{
    public TasksReadyConsumerDefinition(IOptions<WorkerOptions> options) => EndpointName = LumeQueues.Tasks(options.Value.Pool);
}

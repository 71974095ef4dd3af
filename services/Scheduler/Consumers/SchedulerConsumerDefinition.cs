using Lume.Contracts;
using Lume.Hosting;
using Lume.Scheduler.Runs;
using MassTransit;

namespace Lume.Scheduler.Consumers;

/// <summary>
/// Every Scheduler consumer shares one queue and one set of rules. Many messages are taken at once, so that the events
/// of a busy run gather into batches (see <see cref="ActiveRuns"/>, which also keeps each run's events in order);
/// a failed attempt (a lost optimistic-concurrency race, a store or broker hiccup) is retried with fresh state.
/// </summary>
public abstract class SchedulerConsumerDefinition<TConsumer, TMessage> : ConsumerDefinition<TConsumer>
    where TConsumer : class, IConsumer<TMessage>
    where TMessage : class
{
    // Enough in hand for a batch to build up while the one before it is stored. A message in hand is held whole, as
    // received and as read: a worker's TaskReports of 100 results is 100 KB and more, so 1,000 in hand during a
    // 100,000-task fan-out held over 100 MB (the Scheduler's peak fell from 707 to 596 MiB at 200). 64 in hand took the
    // fan-out's peak from about 520 to 415 MiB, but a control message then waits behind a backlog of reports: a CI run
    // of the chaos test saw a CancelRun applied only after its 10-second run had ended.
    const int InHand = 250;

    protected SchedulerConsumerDefinition() => EndpointName = LumeQueues.Scheduler;

    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator, IConsumerConfigurator<TConsumer> consumerConfigurator, IRegistrationContext context)
    {
        endpointConfigurator.PrefetchCount = InHand;
        endpointConfigurator.ConcurrentMessageLimit = InHand;
        // At once for a lost race (the fresh state is there to read), then backing off, without end, for anything the store
        // or broker says: an event put aside in the error queue would leave its run waiting forever, and an outage ends.
        // What can never be applied (a message that cannot be read) fails at once and goes to the error queue with its reason.
        consumerConfigurator.UseMessageRetry(r =>
        {
            r.Ignore<ArgumentException>();
            r.Ignore<System.Text.Json.JsonException>();
            r.Exponential(int.MaxValue, TimeSpan.Zero, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(50));
        });
    }
}

public sealed class RunRequestedDefinition : SchedulerConsumerDefinition<RunRequestedConsumer, RunRequested>;

public sealed class TaskStartedDefinition : SchedulerConsumerDefinition<TaskStartedConsumer, TaskStarted>;

public sealed class TaskCompletedDefinition : SchedulerConsumerDefinition<TaskCompletedConsumer, TaskCompleted>;

public sealed class TaskFailedDefinition : SchedulerConsumerDefinition<TaskFailedConsumer, TaskFailed>;

public sealed class TaskReportsDefinition : SchedulerConsumerDefinition<TaskReportsConsumer, TaskReports>;

public sealed class CancelRunDefinition : SchedulerConsumerDefinition<CancelRunConsumer, CancelRun>;

public sealed class ApproveTaskDefinition : SchedulerConsumerDefinition<ApproveTaskConsumer, ApproveTask>;

public sealed class CheckCacheDefinition : SchedulerConsumerDefinition<CheckCacheConsumer, CheckCache>;

public sealed class StoreCacheDefinition : SchedulerConsumerDefinition<StoreCacheConsumer, StoreCache>;

public sealed class ClaimAttemptDefinition : SchedulerConsumerDefinition<ClaimAttemptConsumer, ClaimAttempt>;

public sealed class GetRunDefinition : SchedulerConsumerDefinition<GetRunConsumer, GetRun>;

public sealed class ListRunsDefinition : SchedulerConsumerDefinition<ListRunsConsumer, ListRuns>;

public sealed class RegisterWorkerDefinition : SchedulerConsumerDefinition<RegisterWorkerConsumer, RegisterWorker>;

public sealed class RegisterFlowDefinition : SchedulerConsumerDefinition<RegisterFlowConsumer, RegisterFlow>;

public sealed class WorkerHeartbeatDefinition : SchedulerConsumerDefinition<WorkerHeartbeatConsumer, WorkerHeartbeat>;

public sealed class ListFlowsDefinition : SchedulerConsumerDefinition<ListFlowsConsumer, ListFlows>;

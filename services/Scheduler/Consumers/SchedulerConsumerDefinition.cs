using Lume.Contracts;
using Lume.Hosting;
using Lume.Scheduler.Runs;
using MassTransit;

namespace Lume.Scheduler.Consumers;

/// <summary>
/// The Scheduler's consumers share one set of rules, on two queues. Many messages are taken at once, so that the events
/// of a busy run gather into batches (see <see cref="ActiveRuns"/>, which also keeps each run's events in order);
/// a failed attempt (a lost optimistic-concurrency race, a store or broker hiccup) is retried with fresh state.
/// </summary>
/// <remarks>
/// The workers' task events come on <see cref="LumeQueues.SchedulerEvents"/>, everything else (runs started, cancelled
/// and approved, requests, workers' claims and heartbeats) on <see cref="LumeQueues.Scheduler"/>. A 100,000-task run
/// keeps a backlog of reports waiting, and on one queue a CancelRun or a GetRun waited its turn behind all of it (a CI
/// run of the chaos test saw a cancel applied only after its 10-second run had ended). Apart, a control message never
/// waits for reports, and the reports can be held few at a time.
/// </remarks>
public abstract class SchedulerConsumerDefinition<TConsumer, TMessage> : ConsumerDefinition<TConsumer>
    where TConsumer : class, IConsumer<TMessage>
    where TMessage : class
{
    // A message in hand is held whole, as received and as read: a worker's TaskReports of 100 results is 100 KB and more,
    // so 1,000 in hand during a 100,000-task fan-out held over 100 MB, and 64 took its peak from about 520 to 415 MiB
    // against 250. 64 is still enough for a batch to build up while the one before it is stored. Control messages are
    // small, and many runs are started at once.
    const int EventsInHand = 64;
    const int ControlInHand = 250;

    readonly int _inHand;

    protected SchedulerConsumerDefinition(bool taskEvents = false)
    {
        EndpointName = taskEvents ? LumeQueues.SchedulerEvents : LumeQueues.Scheduler;
        _inHand = taskEvents ? EventsInHand : ControlInHand;
    }

    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator, IConsumerConfigurator<TConsumer> consumerConfigurator, IRegistrationContext context)
    {
        endpointConfigurator.PrefetchCount = _inHand;
        endpointConfigurator.ConcurrentMessageLimit = _inHand;
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

public sealed class TaskStartedDefinition() : SchedulerConsumerDefinition<TaskStartedConsumer, TaskStarted>(taskEvents: true);

public sealed class TaskCompletedDefinition() : SchedulerConsumerDefinition<TaskCompletedConsumer, TaskCompleted>(taskEvents: true);

public sealed class TaskFailedDefinition() : SchedulerConsumerDefinition<TaskFailedConsumer, TaskFailed>(taskEvents: true);

public sealed class TaskReportsDefinition() : SchedulerConsumerDefinition<TaskReportsConsumer, TaskReports>(taskEvents: true);

public sealed class CancelRunDefinition : SchedulerConsumerDefinition<CancelRunConsumer, CancelRun>;

public sealed class ApproveTaskDefinition : SchedulerConsumerDefinition<ApproveTaskConsumer, ApproveTask>;

public sealed class CheckCacheDefinition : SchedulerConsumerDefinition<CheckCacheConsumer, CheckCache>;

public sealed class StoreCacheDefinition : SchedulerConsumerDefinition<StoreCacheConsumer, StoreCache>;

public sealed class ClaimAttemptDefinition : SchedulerConsumerDefinition<ClaimAttemptConsumer, ClaimAttempt>;

public sealed class GetRunDefinition : SchedulerConsumerDefinition<GetRunConsumer, GetRun>;

public sealed class ListRunsDefinition : SchedulerConsumerDefinition<ListRunsConsumer, ListRuns>;

public sealed class GetFlowGraphDefinition : SchedulerConsumerDefinition<GetFlowGraphConsumer, GetFlowGraph>;

public sealed class RegisterWorkerDefinition : SchedulerConsumerDefinition<RegisterWorkerConsumer, RegisterWorker>;

public sealed class RegisterFlowDefinition : SchedulerConsumerDefinition<RegisterFlowConsumer, RegisterFlow>;

public sealed class WorkerHeartbeatDefinition : SchedulerConsumerDefinition<WorkerHeartbeatConsumer, WorkerHeartbeat>;

public sealed class ListFlowsDefinition : SchedulerConsumerDefinition<ListFlowsConsumer, ListFlows>;

using Lume.Scheduler.Flows;
using Lume.Hosting;
using Lume.Scheduler.Consumers;
using Lume.Scheduler.Runs;
using Lume.Storage;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Lume.Scheduler;

/// <summary>Adds the Scheduler to a host.</summary>
public static class SchedulerExtensions
{
    /// <summary>
    /// The Scheduler: consumes RunRequested, CancelRun, ApproveTask, ClaimAttempt, TaskStarted, TaskCompleted, TaskFailed, RegisterWorker, WorkerHeartbeat,
    /// GetRun, ListRuns, GetFlowGraph and ListFlows; publishes RunAccepted, RunsProgressed, RunCompleted, RunFailed and RunCancelled, and sends TaskReady to the
    /// queue of each run's worker pool. Runs and registered flows are kept in SQLite under the data folder.
    /// </summary>
    public static IHostApplicationBuilder AddLumeScheduler(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<SchedulerOptions>()
            .BindLume(builder.Configuration.GetSection("SCHEDULER"), "LUME_SCHEDULER__")
            .ValidateDataAnnotations()
            .ValidateOnStart();
        var configuration = builder.Configuration;
        // Read when the store is first needed, at start: a bad value then stops the start with its variable named.
        services.AddSingleton<IRunStore>(sp =>
        {
            var mongo = LumeConfiguration.Read<MongoSettings>(configuration.GetSection("SCHEDULER_DB"), "LUME_SCHEDULER_DB__");
            return mongo.IsConfigured
                ? new MongoRunStore(mongo.Open("LUME_SCHEDULER_DB__"))
                : new SqliteRunStore(Path.Combine(sp.GetRequiredService<IOptions<LumeOptions>>().Value.DataPath, "scheduler.db"), sp.GetRequiredService<LumeFatal>().Stop);
        });
        // Both adapters keep flows beside runs, in the same database.
        services.AddSingleton(sp => (IFlowStore)sp.GetRequiredService<IRunStore>());
        services.AddSingleton(sp => (ISchedulerLease)sp.GetRequiredService<IRunStore>());
        services.AddSingleton(sp => (ICacheStore)sp.GetRequiredService<IRunStore>());
        services.AddSingleton<FlowRegistry>();
        services.AddSingleton<WorkerDirectory>();
        services.AddReceiveEndpointObserver<HeartbeatGrace>();
        services.AddSingleton<ActiveRuns>();
        services.AddSingleton<RunTimers>();
        services.AddSingleton<TaskTimes>();
        services.AddSingleton<RunProgress>();
        services.AddSingleton<RunPipeline>();
        services.AddHostedService<RunStoreInitializer>();
        // Before the bus starts (MassTransit's hosted service is added last): a standby waits here.
        services.AddSingleton<SchedulerBrokerLock>();
        services.AddHostedService<SchedulerLeaseHolder>();
        services.AddHostedService<RunRecovery>();
        services.AddHostedService<InProcessReports>();
        services.AddHostedService<RunProgressPublisher>();
        services.AddLumeConsumers(bus =>
        {
            bus.AddConsumer<RunRequestedConsumer, RunRequestedDefinition>();
            bus.AddConsumer<TaskStartedConsumer, TaskStartedDefinition>();
            bus.AddConsumer<TaskCompletedConsumer, TaskCompletedDefinition>();
            bus.AddConsumer<TaskFailedConsumer, TaskFailedDefinition>();
            bus.AddConsumer<TaskReportsConsumer, TaskReportsDefinition>();
            bus.AddConsumer<CancelRunConsumer, CancelRunDefinition>();
            bus.AddConsumer<ApproveTaskConsumer, ApproveTaskDefinition>();
            bus.AddConsumer<CheckCacheConsumer, CheckCacheDefinition>();
            bus.AddConsumer<StoreCacheConsumer, StoreCacheDefinition>();
            bus.AddConsumer<ClaimAttemptConsumer, ClaimAttemptDefinition>();
            bus.AddConsumer<GetRunConsumer, GetRunDefinition>();
            bus.AddConsumer<ListRunsConsumer, ListRunsDefinition>();
            bus.AddConsumer<GetFlowGraphConsumer, GetFlowGraphDefinition>();
            bus.AddConsumer<RegisterWorkerConsumer, RegisterWorkerDefinition>();
            bus.AddConsumer<RegisterFlowConsumer, RegisterFlowDefinition>();
            bus.AddConsumer<WorkerHeartbeatConsumer, WorkerHeartbeatDefinition>();
            bus.AddConsumer<ListFlowsConsumer, ListFlowsDefinition>();
        });
        return builder;
    }

    // Runs before the bus starts (hosted services start in registration order and MassTransit's is added last).
    sealed class RunStoreInitializer(IRunStore store, WorkerDirectory workers) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            _ = workers; // made now, so its grace period after start begins with the service, not with the first message
            return store.InitializeAsync(cancellationToken);
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}

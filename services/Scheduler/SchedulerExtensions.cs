using Lume.Flows;
using Lume.Hosting;
using Lume.Scheduler.Consumers;
using Lume.Scheduler.Runs;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Lume.Scheduler;

/// <summary>Adds the Scheduler to a host.</summary>
public static class SchedulerExtensions
{
    /// <summary>
    /// The Scheduler: consumes RunRequested, TaskStarted, TaskCompleted, TaskFailed and GetRun; publishes
    /// RunAccepted, TaskReady, RunCompleted and RunFailed. Runs are kept in SQLite under the data folder.
    /// </summary>
    public static IHostApplicationBuilder AddLumeScheduler(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddSingleton(sp => new FlowCatalog(sp.GetServices<FlowDefinition>()));
        services.AddSingleton<IRunStore>(sp =>
            new SqliteRunStore(Path.Combine(sp.GetRequiredService<IOptions<LumeOptions>>().Value.DataPath, "scheduler.db")));
        services.AddSingleton<SchedulerPartitioner>();
        services.AddHostedService<RunStoreInitializer>();
        services.AddLumeConsumers(bus =>
        {
            bus.AddConsumer<RunRequestedConsumer, RunRequestedDefinition>();
            bus.AddConsumer<TaskStartedConsumer, TaskStartedDefinition>();
            bus.AddConsumer<TaskCompletedConsumer, TaskCompletedDefinition>();
            bus.AddConsumer<TaskFailedConsumer, TaskFailedDefinition>();
            bus.AddConsumer<GetRunConsumer, GetRunDefinition>();
        });
        return builder;
    }

    // Runs before the bus starts (hosted services start in registration order and MassTransit's is added last).
    sealed class RunStoreInitializer(IRunStore store, FlowCatalog flows) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            _ = flows.Latest; // a catalog with a flow defined twice stops the start here, not on the first request
            return store.InitializeAsync(cancellationToken);
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}

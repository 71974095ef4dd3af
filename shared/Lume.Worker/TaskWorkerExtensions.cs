using Lume.Contracts;
using Lume.Flows;
using Lume.Hosting;
using Lume.Worker.BuiltIn;
using Lume.Tasks;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Lume.Worker;

/// <summary>Adds a TaskWorker to a host.</summary>
public static class TaskWorkerExtensions
{
    /// <summary>
    /// The built-in service tasks retry a FileService or Results service that did not answer (ServiceUnavailable), and
    /// nothing else: 10 more attempts, 2 s apart at first, doubling up to 30 s, so an outage of a few minutes delays a
    /// run instead of failing it. Bad input fails at once.
    /// </summary>
    public static readonly RetryPolicy ServiceUnavailableRetry = new(10, 2, 2, 30, 0.2, [TaskErrors.ServiceUnavailable]);


    /// <summary>
    /// The TaskWorker with the built-in tasks (<c>configure_lume_services</c>, <c>check_local_execution</c>, <c>save_file</c>, <c>load_file</c>,
    /// <c>save_db_result</c>, <c>load_db_result</c>): consumes TaskReady and RunCancelled, publishes TaskStarted and TaskCompleted or
    /// TaskFailed, sends SaveFile and LoadFile to the FileService and StoreResult and LoadResult to the Results service.
    /// Add your own tasks with <c>services.AddLumeTask(...)</c>. At start it checks that every flow this host
    /// defines uses only task types it offers.
    /// </summary>
    /// <param name="pool">
    /// The pool this host's workers serve unless <c>LUME_WORKER__POOL</c> says otherwise. A host with tasks of its own
    /// names its own pool, so its flows go to its queue and not to workers that lack those tasks.
    /// </param>
    public static IHostApplicationBuilder AddLumeTaskWorker(this IHostApplicationBuilder builder, string? pool = null)
    {
        var services = builder.Services;
        services.AddOptions<WorkerOptions>()
            .Configure(options => options.Pool = pool ?? options.Pool)
            .BindLume(builder.Configuration.GetSection("WORKER"), "LUME_WORKER__")
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddSingleton<TaskRegistry>();
        services.AddSingleton<RunCancellations>();
        services.AddSingleton<HeldAttempts>();
        services.AddSingleton<TaskRunner>();
        services.AddSingleton<ReportSender>();
        services.AddSingleton<TaskQueueProbe>();
        services.AddLumeTask<ConfigureLumeServices>("configure_lume_services");
        services.AddLumeTask<CheckLocalExecution>("check_local_execution");
        services.AddLumeTask<SaveFileTask>("save_file", ServiceUnavailableRetry);
        services.AddLumeTask<LoadFileTask>("load_file", ServiceUnavailableRetry);
        services.AddLumeTask<SaveDbResultTask>("save_db_result", ServiceUnavailableRetry);
        services.AddLumeTask<LoadDbResultTask>("load_db_result", ServiceUnavailableRetry);
        services.AddHostedService<FlowTaskTypeCheck>();
        services.AddHostedService<WorkerRegistration>();
        services.AddHostedService<InProcessTaskLoop>();
        services.AddLumeConsumers(bus =>
        {
            bus.AddConsumer<TaskReadyConsumer, TaskReadyConsumerDefinition>();
            bus.AddConsumer<TasksReadyConsumer, TasksReadyConsumerDefinition>();
            // Every worker hears every cancellation, on a queue of its own that goes away with it.
            bus.AddConsumer<RunCancelledConsumer>().Endpoint(e =>
            {
                e.Name = "lume-worker-cancellations";
                e.InstanceId = NewId.Next().ToString("N");
                e.Temporary = true;
            });
            bus.AddRequestClient<SaveFile>(LumeQueues.Address(LumeQueues.Files));
            bus.AddRequestClient<LoadFile>(LumeQueues.Address(LumeQueues.Files));
            bus.AddRequestClient<StoreResult>(LumeQueues.Address(LumeQueues.Results));
            bus.AddRequestClient<LoadResult>(LumeQueues.Address(LumeQueues.Results));
            bus.AddRequestClient<RegisterWorker>(LumeQueues.Address(LumeQueues.Scheduler));
            bus.AddRequestClient<ClaimAttempt>(LumeQueues.Address(LumeQueues.Scheduler));
        });
        return builder;
    }

    sealed class FlowTaskTypeCheck(TaskRegistry registry, IEnumerable<FlowDefinition> flows) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            var problems = flows.SelectMany(f => FlowChecks.CheckGraph(f, registry.Names)).ToArray();
            return problems.Length == 0 ? Task.CompletedTask : throw new FlowDefinitionException(problems);
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}

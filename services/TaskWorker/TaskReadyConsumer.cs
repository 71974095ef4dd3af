using Lume.Contracts;
using Lume.Hosting;
using Lume.Tasks;
using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Lume.TaskWorker;

/// <summary>
/// Runs the task named in TaskReady and reports TaskCompleted or TaskFailed; and TaskStarted first, if the task
/// is still running after <see cref="WorkerOptions.ReportStartedAfterMs"/>.
/// </summary>
public sealed class TaskReadyConsumer(
    TaskRegistry registry, IServiceProvider services, IOptions<WorkerOptions> options, TimeProvider time, ILogger<TaskReadyConsumer> logger)
    : IConsumer<TaskReady>
{
    public async Task Consume(ConsumeContext<TaskReady> context)
    {
        var ready = context.Message;
        var worker = options.Value.Name;
        var started = time.GetUtcNow();
        using var activity = LumeTelemetry.Source.StartActivity($"task {ready.TaskSlug}");
        activity?.SetTag("lume.run_id", ready.RunId.ToString());
        activity?.SetTag("lume.flow", ready.Flow);
        activity?.SetTag("lume.task_slug", ready.TaskSlug);
        activity?.SetTag("lume.task_type", ready.TaskType);
        activity?.SetTag("lume.attempt", ready.Attempt);
        activity?.SetTag("lume.worker", worker);
        var tags = LumeTelemetry.Tags(ready.Flow, ready.TaskType);
        LumeTelemetry.TasksStarted.Add(1, tags);
        LumeTelemetry.TaskQueueWait.Record((started - ready.ReadyAt).TotalSeconds, tags);
        if (context.ReceiveContext.Redelivered)
            LumeTelemetry.TasksRetried.Add(1, tags);
        var reportAfter = TimeSpan.FromMilliseconds(options.Value.ReportStartedAfterMs);
        if (reportAfter == TimeSpan.Zero)
            await context.Publish(new TaskStarted(ready.RunId, ready.TaskSlug, ready.Attempt, worker, started));

        using var scope = logger.BeginScope(new Dictionary<string, object> { ["RunId"] = ready.RunId, ["TaskSlug"] = ready.TaskSlug });
        var taskContext = new TaskContext(ready.RunId, ready.Flow, ready.TaskSlug, ready.TaskType, ready.Attempt, services, context.CancellationToken);
        try
        {
            var running = registry.RunAsync(ready.Inputs, taskContext);
            if (reportAfter > TimeSpan.Zero && !running.IsCompleted && !await FinishesWithin(running, reportAfter, context.CancellationToken))
                await context.Publish(new TaskStarted(ready.RunId, ready.TaskSlug, ready.Attempt, worker, started));
            var result = await running;
            var finished = time.GetUtcNow();
            LumeTelemetry.TasksCompleted.Add(1, tags);
            LumeTelemetry.TaskDuration.Record((finished - started).TotalSeconds, tags);
            await context.Publish(new TaskCompleted(ready.RunId, ready.TaskSlug, ready.Attempt, result, worker, started, finished));
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            throw; // the worker is stopping: leave the message to be delivered again, not reported as failed
        }
        catch (Exception e)
        {
            var (type, retryable) = e is TaskFailedException failed ? (failed.ErrorType, failed.Retryable) : (e.GetType().Name, false);
            activity?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, $"{type}: {e.Message}");
            LumeTelemetry.TasksFailed.Add(1, tags);
            LumeTelemetry.TaskDuration.Record((time.GetUtcNow() - started).TotalSeconds, tags);
            logger.LogInformation(e is TaskFailedException ? null : e, "Task {TaskSlug} of run {RunId} failed: {ErrorType}: {Message}",
                ready.TaskSlug, ready.RunId, type, e.Message);
            await context.Publish(new TaskFailed(ready.RunId, ready.TaskSlug, ready.Attempt, type, e.Message, retryable, worker, time.GetUtcNow()));
        }
    }

    async Task<bool> FinishesWithin(Task running, TimeSpan limit, CancellationToken cancellationToken)
    {
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var first = await Task.WhenAny(running, Task.Delay(limit, time, timer.Token));
        await timer.CancelAsync(); // frees the timer when the task won
        return first == running;
    }
}

/// <summary>
/// The workers of a pool compete on its queue; each takes as many tasks at once as <see cref="WorkerOptions.Concurrency"/>
/// allows and prefetches no more, so a slow worker does not sit on tasks that an idle one could run.
/// </summary>
public sealed class TaskReadyConsumerDefinition : ConsumerDefinition<TaskReadyConsumer>
{
    readonly int _concurrency;

    public TaskReadyConsumerDefinition(IOptions<WorkerOptions> options)
    {
        EndpointName = LumeQueues.Tasks(options.Value.Pool);
        _concurrency = options.Value.Concurrency;
        ConcurrentMessageLimit = _concurrency;
    }

    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator, IConsumerConfigurator<TaskReadyConsumer> consumerConfigurator, IRegistrationContext context)
    {
        endpointConfigurator.PrefetchCount = _concurrency;
    }
}

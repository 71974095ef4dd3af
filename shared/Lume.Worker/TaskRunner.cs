using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using Lume.Contracts;
using Lume.Hosting;
using Lume.Tasks;
using MassTransit;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Lume.Worker;

/// <summary>
/// Runs the attempt named in a TaskReady and reports TaskCompleted or TaskFailed, with the attempt's token; and TaskStarted
/// first, if the task is still running after <see cref="WorkerOptions.ReportStartedAfterMs"/>, or at once if it has a
/// timeout (the Scheduler watches that too, in case this worker stops answering). Shared by a TaskReady that comes
/// alone and the tasks of a TasksReady.
/// </summary>
public sealed class TaskRunner(
    TaskRegistry registry, RunCancellations cancellations, HeldAttempts held, ReportSender reports,
    IBus bus, IHostApplicationLifetime lifetime, IServiceProvider services, IOptions<WorkerOptions> options, TimeProvider time,
    ILogger<TaskRunner> logger)
{
    /// <summary>
    /// Runs the attempt. Completes once the task has run and its report is handed to <see cref="ReportSender"/>, with a
    /// task that completes once the report has gone out: a batch starts its next task at the first, and is acknowledged
    /// after the second.
    /// </summary>
    /// <param name="redelivered">Whether the broker delivered this copy again: like <see cref="TaskReady.SentAgain"/>, it is claimed, not run.</param>
    /// <param name="publisher">Where a claim goes: the consumed message's context, or the bus.</param>
    /// <param name="trace">The span the task's span goes under; default: the current one.</param>
    /// <param name="together">The batch's reports, while they are held to go together; null: the report goes as it comes.</param>
    public async Task<Task> RunAsync(
        TaskReady ready, bool redelivered, IPublishEndpoint publisher, ActivityContext trace = default, ReportSender.Together? together = null)
    {
        if (cancellations.IsCancelled(ready.RunId))
        {
            logger.LogDebug("Task {TaskSlug} of cancelled run {RunId} not started", ready.TaskSlug, ready.RunId);
            return Task.CompletedTask;
        }

        // Delivered again (the broker lost the connection it went out on), or sent again (the Scheduler could not tell
        // whether its first copy went out): the first holder may be running it still. The copy is never run: the
        // Scheduler replaces the attempt with a new one once no live worker holds it and it has not ended.
        if (redelivered || ready.SentAgain)
        {
            await ReportRedeliveredAsync(publisher, ready);
            return Task.CompletedTask;
        }

        var holding = held.Hold(ready);
        try
        {
            var (report, size, span) = await ExecuteAsync(ready, trace);
            if (report is null)
            {
                holding.Dispose();
                return Task.CompletedTask;
            }

            return ReleaseAfter(reports.SendAsync(report, size, span, together), holding);
        }
        catch
        {
            holding.Dispose();
            throw;
        }
    }

    // The attempt is held until its report has gone out: until then the heartbeat lists it.
    static async Task ReleaseAfter(Task reported, IDisposable holding)
    {
        using (holding)
            await reported;
    }

    async Task<(object? Report, int Size, ActivityContext Trace)> ExecuteAsync(TaskReady ready, ActivityContext parent)
    {
        var worker = options.Value.Name;
        var started = time.GetUtcNow();
        using var activity = LumeTelemetry.Source.StartActivity($"task {ready.TaskSlug}", ActivityKind.Internal, parent);
        activity?.SetTag("lume.run_id", ready.RunId.ToString());
        activity?.SetTag("lume.flow", ready.Flow);
        activity?.SetTag("lume.task_slug", ready.TaskSlug);
        activity?.SetTag("lume.task_type", ready.TaskType);
        activity?.SetTag("lume.attempt", ready.Attempt);
        activity?.SetTag("lume.worker", worker);
        var trace = activity?.Context ?? Activity.Current?.Context ?? default;
        var tags = LumeTelemetry.Tags(ready.Flow, ready.TaskType);
        LumeTelemetry.TasksStarted.Add(1, tags);
        LumeTelemetry.TaskQueueWait.Record((started - ready.ReadyAt).TotalSeconds, tags);
        var timeout = ready.TimeoutSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : (TimeSpan?)null;
        var reportAfter = timeout is null ? TimeSpan.FromMilliseconds(options.Value.ReportStartedAfterMs) : TimeSpan.Zero;
        var startedReport = new TaskStarted(ready.RunId, ready.TaskSlug, ready.Attempt, worker, started);
        var stopping = lifetime.ApplicationStopping;
        if (reportAfter == TimeSpan.Zero)
            await ReportStartedAsync(startedReport, stopping);

        using var scope = logger.BeginScope(new Dictionary<string, object> { ["RunId"] = ready.RunId, ["TaskSlug"] = ready.TaskSlug });
        // The task's token fires when the worker stops, the run is cancelled, or the attempt's time is up; not when the
        // connection the message came on is lost (a broker restart): the task goes on, and its report goes out after.
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        using var timer = timeout is { } limit ? new CancellationTokenSource(limit, time) : null;
        using var timedOut = timer?.Token.Register(attempt.Cancel);
        using var tracked = cancellations.Track(ready.RunId, attempt);
        var taskContext = new TaskContext(ready.RunId, ready.Flow, ready.TaskSlug, ready.TaskType, ready.Attempt, services, attempt.Token);
        object report;
        var size = 0;
        try
        {
            var running = registry.RunAsync(ready.Inputs, taskContext);
            if (reportAfter > TimeSpan.Zero && !running.IsCompleted && !await FinishesWithin(running, reportAfter, attempt.Token))
                await ReportStartedAsync(startedReport, attempt.Token);
            var result = await running;
            var finished = time.GetUtcNow();
            size = JsonMarshal.GetRawUtf8Value(result).Length; // the JSON as it travels, without a copy
            report = size switch
            {
                > TaskLimits.MaxResultBytes => Failure(ready, TaskErrors.ResultTooLarge,
                    $"task '{ready.TaskSlug}' returned {size} bytes of JSON, over the limit of {TaskLimits.MaxResultBytes}; " +
                    "save large data with save_file or save_db_result and return its rep", retryable: false),
                _ => new TaskCompleted(ready.RunId, ready.TaskSlug, ready.Attempt, ready.Token, result, worker, started, finished),
            };
            if (report is TaskCompleted)
            {
                LumeTelemetry.TasksCompleted.Add(1, tags);
                LumeTelemetry.TaskDuration.Record((finished - started).TotalSeconds, tags);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            throw; // the worker is stopping: the broker delivers the message again, and the Scheduler replaces the attempt
        }
        catch (OperationCanceledException) when (cancellations.IsCancelled(ready.RunId))
        {
            logger.LogInformation("Task {TaskSlug} of run {RunId} stopped: the run was cancelled", ready.TaskSlug, ready.RunId);
            return (null, 0, trace); // the run has ended; a report would change nothing
        }
        catch (OperationCanceledException) when (timer?.IsCancellationRequested == true)
        {
            report = Failure(ready, TaskErrors.TimedOut, $"task '{ready.TaskSlug}' ran past its timeout of {ready.TimeoutSeconds} s", retryable: true);
        }
        catch (Exception e)
        {
            // A task's own error says whether a retry could help; bad arguments never get better; any other exception may be transient.
            var (type, retryable) = e is TaskFailedException failed ? (failed.ErrorType, failed.Retryable) : (e.GetType().Name, !IsBadInput(e));
            logger.LogInformation(e is TaskFailedException ? null : e, "Task {TaskSlug} of run {RunId} failed: {ErrorType}: {Message}",
                ready.TaskSlug, ready.RunId, type, e.Message);
            report = Failure(ready, type, e.Message, retryable);
        }

        if (report is TaskFailed failure)
        {
            activity?.SetStatus(ActivityStatusCode.Error, $"{failure.ErrorType}: {failure.Message}");
            LumeTelemetry.TasksFailed.Add(1, tags);
            LumeTelemetry.TaskDuration.Record((failure.FinishedAt - started).TotalSeconds, tags);
            size = failure.Message.Length;
        }

        return (report, size, trace);

        TaskFailed Failure(TaskReady task, string type, string message, bool retryable) =>
            new(task.RunId, task.TaskSlug, task.Attempt, task.Token, type, message, retryable, worker, time.GetUtcNow(), started);
    }

    // The copy is handed to the Scheduler as a claim, which waits for the first holder's heartbeat to be heard itself:
    // the worker goes on with other tasks, and the claim, in the Scheduler's queue before this delivery is acknowledged,
    // outlives this worker. A stopping worker claims too (the bus is up until its endpoints have stopped): given back to
    // the queue instead, the copy could come straight back to it.
    async Task ReportRedeliveredAsync(IPublishEndpoint publisher, TaskReady ready)
    {
        if (held.IsRunning(ready.Token))
        {
            logger.LogInformation("Task {TaskSlug} attempt {Attempt} of run {RunId} delivered again to the worker that runs it; dropped",
                ready.TaskSlug, ready.Attempt, ready.RunId);
            return;
        }

        logger.LogInformation("Task {TaskSlug} attempt {Attempt} of run {RunId} {How}; claimed, not run",
            ready.TaskSlug, ready.Attempt, ready.RunId, ready.SentAgain ? "sent again" : "delivered again");
        await publisher.Publish(new ClaimAttempt(ready.RunId, ready.TaskSlug, ready.Attempt, ready.Token, options.Value.Name));
    }

    // How long a TaskStarted may take to go out before the task goes on without it.
    static readonly TimeSpan StartedLimit = TimeSpan.FromSeconds(10);

    // TaskStarted only tells the run where the attempt stands; its end is reported regardless, and a worker that dies
    // holding it is found by its heartbeats. So a TaskStarted that cannot go out (a broker restart can leave a publish
    // waiting for ever on a channel that is gone) is given up after a while, not waited on with the task held.
    async Task ReportStartedAsync(TaskStarted started, CancellationToken cancellationToken)
    {
        try
        {
            await SendLimit.WithinAsync(token => bus.Publish(started, token), StartedLimit, time, cancellationToken);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning("Task {TaskSlug} of run {RunId} goes on without its TaskStarted, which did not go out: {Error}",
                started.TaskSlug, started.RunId, e.Message);
        }
    }

    static bool IsBadInput(Exception e) =>
        e is ArgumentException or FormatException or InvalidCastException or JsonException or KeyNotFoundException;

    async Task<bool> FinishesWithin(Task running, TimeSpan limit, CancellationToken cancellationToken)
    {
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var first = await Task.WhenAny(running, Task.Delay(limit, time, timer.Token));
        await timer.CancelAsync(); // frees the timer when the task won
        return first == running;
    }
}

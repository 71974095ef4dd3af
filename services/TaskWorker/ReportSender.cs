using System.Diagnostics;
using System.Text.Json;
using System.Threading.Channels;
using Lume.Contracts;
using Lume.Hosting;
using MassTransit;
using MassTransit.RetryPolicies;
using Microsoft.Extensions.Hosting;

namespace Lume.TaskWorker;

/// <summary>
/// Sends the worker's task reports. A report goes out as soon as the one before it is sent; those that come meanwhile
/// go out together, one TaskReports message per run: a lone report waits for nothing (a chain), and a worker finishing
/// many short tasks sends a message per batch, not per task. A report must get out once its task has run, or the run
/// waits: each send is tried again while the broker is away, and only the worker's stop ends the tries.
/// </summary>
public sealed class ReportSender : IDisposable
{
    static readonly IRetryPolicy ReportRetry = Retry.Exponential(int.MaxValue, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(100));

    readonly Channel<Pending> _pending = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    readonly IBus _bus;
    readonly CancellationToken _stopping;

    readonly InProcessTasks? _inProcess;

    static readonly JsonElement NullJson = JsonSerializer.SerializeToElement<object?>(null);

    // Long enough for a Scheduler that is down for a while to read it when it comes back.
    static readonly TimeSpan ClaimCheckLifetime = TimeSpan.FromDays(1);

    readonly IMessageDataRepository _messageData;

    public ReportSender(IBus bus, IMessageDataRepository messageData, IHostApplicationLifetime lifetime, InProcessTasks? inProcess = null)
    {
        _bus = bus;
        _messageData = messageData;
        _inProcess = inProcess;
        _stopping = lifetime.ApplicationStopping;
        _ = Task.Run(SendLoopAsync);
    }

    sealed record Pending(object Report, Guid RunId, int Size, ActivityContext Trace)
    {
        public TaskCompletionSource Sent { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>
    /// Sends a TaskCompleted or TaskFailed; completes once the broker has it. <paramref name="size"/> is the length of its
    /// JSON result or message, <paramref name="trace"/> the span of the task it reports, under which it is sent.
    /// </summary>
    public Task SendAsync(object report, int size, ActivityContext trace)
    {
        var runId = report switch
        {
            TaskCompleted completed => completed.RunId,
            TaskFailed failed => failed.RunId,
            _ => throw new ArgumentException($"not a task report: {report.GetType().Name}", nameof(report)),
        };
        var pending = new Pending(report, runId, size, trace);
        if (!_pending.Writer.TryWrite(pending))
            throw new ObjectDisposedException(nameof(ReportSender));
        return pending.Sent.Task;
    }

    async Task SendLoopAsync()
    {
        var reader = _pending.Reader;
        var batch = new List<Pending>();
        while (await reader.WaitToReadAsync())
        {
            batch.Clear();
            var bytes = 0;
            while (batch.Count < TaskBatches.MaxTasks && bytes < TaskBatches.MaxBytes && reader.TryRead(out var pending))
            {
                batch.Add(pending);
                bytes += pending.Size;
            }

            await Task.WhenAll(batch.GroupBy(p => p.RunId).Select(run => SendAsync(run.ToList())));
        }
    }

    async Task SendAsync(List<Pending> reports)
    {
        try
        {
            // Under the first task's span: a run's reports belong to its trace.
            using var activity = LumeTelemetry.Source.StartActivity("reports", ActivityKind.Producer, reports[0].Trace);
            activity?.SetTag("lume.run_id", reports[0].RunId.ToString());
            activity?.SetTag("lume.reports", reports.Count);
            // Embedded, the Scheduler is in this process and takes the reports as they are.
            if (_inProcess is { TakesReports: true })
            {
                await _inProcess.ReportAsync(reports.Select(r => r.Report).ToArray());
                foreach (var report in reports)
                    report.Sent.TrySetResult();
                return;
            }

            // A large result leaves by claim check (MassTransit message data, in the folder the services share), alone,
            // in TaskCompleted, whose consumer reads it.
            var alone = reports.Where(r => r.Report is TaskCompleted && r.Size > TaskLimits.InlineResultBytes).ToList();
            var together = reports.Except(alone).ToList();
            var sends = new List<Task>();
            foreach (var report in alone)
            {
                var completed = (TaskCompleted)report.Report;
                var data = await _messageData.PutBytes(JsonSerializer.SerializeToUtf8Bytes(completed.Result), ClaimCheckLifetime, _stopping);
                sends.Add(ReportRetry.Retry(() => _bus.Publish(completed with { Result = NullJson, ResultData = data }, _stopping), _stopping));
            }

            if (together.Count > 0)
            {
                var message = new TaskReports(together.Select(r => r.Report).OfType<TaskCompleted>().ToArray(),
                    together.Select(r => r.Report).OfType<TaskFailed>().ToArray());
                sends.Add(ReportRetry.Retry(() => _bus.Publish(message, _stopping), _stopping));
            }

            await Task.WhenAll(sends);
            foreach (var report in reports)
                report.Sent.TrySetResult();
        }
        catch (Exception e)
        {
            foreach (var report in reports)
                report.Sent.TrySetException(e);
        }
    }

    public void Dispose() => _pending.Writer.TryComplete();
}

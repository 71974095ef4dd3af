using System.Diagnostics;
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

    public ReportSender(IBus bus, IHostApplicationLifetime lifetime)
    {
        _bus = bus;
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
            // A result by claim check goes alone, in TaskCompleted, whose consumer reads it.
            var alone = reports.Where(r => r.Report is TaskCompleted { ResultData: not null }).ToList();
            var together = reports.Except(alone).ToList();
            var sends = alone.Select(r => ReportRetry.Retry(() => _bus.Publish((TaskCompleted)r.Report, _stopping), _stopping)).ToList();
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

using System.Diagnostics;
using System.Text.Json;
using Lume.Contracts;
using Lume.Hosting;
using MassTransit;
using MassTransit.RetryPolicies;
using Microsoft.Extensions.Hosting;

namespace Lume.Worker;

/// <summary>
/// Sends the worker's task reports. A report goes out as soon as the one before it is sent; those that come meanwhile
/// go out together, one TaskReports message per run: a lone report waits for nothing (a chain), and a worker finishing
/// many short tasks sends a message per batch, not per task. A report must get out once its task has run, or the run
/// waits: each send is tried again while the broker is away, until <see cref="StopGrace"/> into the worker's stop. A
/// stopping worker still sends the reports of the tasks that finished: dropped, their tasks would run again elsewhere.
/// </summary>
public sealed class ReportSender
{
    static readonly IRetryPolicy ReportRetry = Retry.Exponential(int.MaxValue, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(100));

    readonly Lock _gate = new();
    readonly Queue<Pending> _waiting = new();
    bool _sending;
    readonly IBus _bus;
    readonly CancellationToken _stopping; // fires StopGrace after the worker starts to stop

    readonly InProcessTasks? _inProcess;

    static readonly JsonElement NullJson = JsonSerializer.SerializeToElement<object?>(null);

    // Long enough for a Scheduler that is down for a while to read it when it comes back.
    static readonly TimeSpan ClaimCheckLifetime = TimeSpan.FromDays(1);

    readonly IMessageDataRepository _messageData;

    // Each try has a time limit: a publish caught by a broker restart may wait for a confirmation that never comes, and a
    // report stuck there would hold its attempt for ever (the heartbeat lists it as held). A report sent twice is one
    // report: the Scheduler drops the copy.
    Task PublishAsync<T>(T message)
        where T : class =>
        ReportRetry.Retry(() => SendLimit.WithinAsync(token => _bus.Publish(message, token), PublishLimit, _time, _stopping), _stopping);

    static readonly TimeSpan PublishLimit = TimeSpan.FromSeconds(30);

    readonly TimeProvider _time;

    public ReportSender(IBus bus, IMessageDataRepository messageData, IHostApplicationLifetime lifetime, TimeProvider time, InProcessTasks? inProcess = null)
    {
        _time = time;
        _bus = bus;
        _messageData = messageData;
        _inProcess = inProcess;
        // A stopping worker still sends the reports of the tasks that finished, for a few seconds: they go out in
        // milliseconds when the broker is there, and one that cannot go out must not hold the stop up (a worker whose
        // connection is stuck exits to be replaced). A report given up means its task runs again elsewhere.
        _giveUp = new CancellationTokenSource(Timeout.InfiniteTimeSpan, time);
        lifetime.ApplicationStopping.Register(() => _giveUp.CancelAfter(StopGrace));
        _stopping = _giveUp.Token;
    }

    /// <summary>How long a stopping worker still tries to send its reports.</summary>
    public static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(5);

    readonly CancellationTokenSource _giveUp;

    internal sealed record Pending(object Report, Guid RunId, int Size, ActivityContext Trace)
    {
        public TaskCompletionSource Sent { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>
    /// Sends a TaskCompleted or TaskFailed; completes once the broker has it. <paramref name="size"/> is the length of its
    /// JSON result or message, <paramref name="trace"/> the span of the task it reports, under which it is sent.
    /// </summary>
    /// <param name="together">The reports of the batch the task came in, while they are held to go together.</param>
    public Task SendAsync(object report, int size, ActivityContext trace, Together? together = null)
    {
        var pending = new Pending(report, TaskReports.RunOf(report), size, trace);
        return together?.TryHold(pending) == true ? pending.Sent.Task : Enqueue([pending], pending);
    }

    /// <summary>Holds the reports of a batch's tasks until the batch has run (see <see cref="Together"/>).</summary>
    public Together HoldTogether() => new(this);

    // Completes once `own` has gone out.
    Task Enqueue(IReadOnlyList<Pending> reports, Pending own)
    {
        List<Pending> batch;
        lock (_gate)
        {
            foreach (var pending in reports)
                _waiting.Enqueue(pending);
            if (_sending)
                return own.Sent.Task; // goes with the next batch
            _sending = true;
            batch = TakeBatch();
        }

        return SendFirstAsync(batch, own);
    }

    /// <summary>
    /// The reports of one TasksReady, held while its tasks run and then handed over at once, to go in one TaskReports: sent
    /// as each task ends, the first would go alone (nothing else being sent), and the Scheduler would release what it
    /// unblocks a task or two at a time. Released once the batch has run, or <see cref="TaskBatches.HoldNextFor"/> after it
    /// started, whichever comes first; a report after that goes as it comes.
    /// </summary>
    public sealed class Together : IDisposable
    {
        readonly ReportSender _sender;
        readonly Lock _gate = new();
        List<Pending>? _held = [];

        internal Together(ReportSender sender) => _sender = sender;

        internal bool TryHold(Pending pending)
        {
            lock (_gate)
            {
                _held?.Add(pending);
                return _held is not null;
            }
        }

        /// <summary>Hands the held reports over; later ones go as they come.</summary>
        public void Dispose()
        {
            List<Pending>? held;
            lock (_gate)
                (held, _held) = (_held, null);
            if (held is { Count: > 0 })
                _ = _sender.Enqueue(held, held[0]); // each report's own task says when it has gone out
        }
    }

    // The report that finds nothing being sent goes at once, from its own task: a chain's report takes no thread hop.
    // What came meanwhile goes next, from the thread pool, so that this task is not kept sending others' reports.
    async Task SendFirstAsync(List<Pending> batch, Pending own)
    {
        await SendBatchAsync(batch);
        if (MoreWaiting())
            _ = Task.Run(SendRestAsync);
        await own.Sent.Task;
    }

    async Task SendRestAsync()
    {
        do
        {
            List<Pending> batch;
            lock (_gate)
                batch = TakeBatch();
            await SendBatchAsync(batch);
        }
        while (MoreWaiting());
    }

    bool MoreWaiting()
    {
        lock (_gate)
        {
            if (_waiting.Count > 0)
                return true;
            _sending = false;
            return false;
        }
    }

    // Called under the lock.
    List<Pending> TakeBatch()
    {
        var batch = new List<Pending>();
        var bytes = 0;
        while (batch.Count < TaskBatches.MaxTasks && bytes < TaskBatches.MaxBytes && _waiting.TryDequeue(out var pending))
        {
            batch.Add(pending);
            bytes += pending.Size;
        }

        return batch;
    }

    Task SendBatchAsync(List<Pending> batch) => Task.WhenAll(batch.GroupBy(p => p.RunId).Select(run => SendAsync(run.ToList())));

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
                sends.Add(PublishAsync(completed with { Result = NullJson, ResultData = data }));
            }

            if (together.Count > 0)
            {
                var message = new TaskReports(together.Select(r => r.Report).OfType<TaskCompleted>().ToArray(),
                    together.Select(r => r.Report).OfType<TaskFailed>().ToArray());
                sends.Add(PublishAsync(message));
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
}

using System.Collections.Concurrent;
using Lume.Contracts;
using MassTransit;

namespace Lume.Worker;

/// <summary>
/// The tasks this worker is running, by run, so that a cancelled run's tasks see their cancellation token fire; and the
/// runs cancelled lately, so that a TaskReady of such a run still in the queue is not started.
/// </summary>
public sealed class RunCancellations(TimeProvider time)
{
    static readonly TimeSpan Remember = TimeSpan.FromHours(1);

    readonly ConcurrentDictionary<Guid, ConcurrentDictionary<CancellationTokenSource, byte>> _running = new();
    readonly ConcurrentDictionary<Guid, DateTimeOffset> _cancelled = new();

    /// <summary>Whether the run was cancelled (as far as this worker has heard).</summary>
    public bool IsCancelled(Guid runId) => _cancelled.ContainsKey(runId);

    /// <summary>Registers a running task of the run; dispose the result when it ends.</summary>
    public IDisposable Track(Guid runId, CancellationTokenSource task)
    {
        _running.GetOrAdd(runId, _ => new()).TryAdd(task, 0);
        // Cancelled between the check before the start and now: cancel at once.
        if (IsCancelled(runId))
            task.Cancel();
        return new Registration(this, runId, task);
    }

    /// <summary>Cancels what this worker runs of the run, and remembers the run for a while.</summary>
    public void Cancel(Guid runId)
    {
        var now = time.GetUtcNow();
        _cancelled[runId] = now;
        if (_running.TryGetValue(runId, out var tasks))
            foreach (var task in tasks.Keys)
                task.Cancel();
        foreach (var (old, at) in _cancelled)
            if (now - at > Remember)
                _cancelled.TryRemove(old, out _);
    }

    sealed class Registration(RunCancellations owner, Guid runId, CancellationTokenSource task) : IDisposable
    {
        public void Dispose()
        {
            if (owner._running.TryGetValue(runId, out var tasks))
            {
                tasks.TryRemove(task, out _);
                if (tasks.IsEmpty)
                    owner._running.TryRemove(new KeyValuePair<Guid, ConcurrentDictionary<CancellationTokenSource, byte>>(runId, tasks));
            }
        }
    }
}

/// <summary>Hears that a run was cancelled; every worker has its own queue for it, so each one hears it.</summary>
public sealed class RunCancelledConsumer(RunCancellations cancellations) : IConsumer<RunCancelled>
{
    public Task Consume(ConsumeContext<RunCancelled> context)
    {
        cancellations.Cancel(context.Message.RunId);
        return Task.CompletedTask;
    }
}

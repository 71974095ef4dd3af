using System.Collections.Concurrent;
using Lume.Contracts;

namespace Lume.Worker;

/// <summary>
/// The attempts this worker holds, from their start until their report has gone out: its heartbeat lists them, so the
/// Scheduler does not replace an attempt while this worker lives and may still report it, and a copy delivered again to
/// this same worker meanwhile is dropped without asking. It also counts every TaskReady delivered and still being
/// handled (a redelivered copy waiting to be claimed too), which is what the worker's deafness check compares with the
/// broker's queue.
/// </summary>
public sealed class HeldAttempts
{
    readonly ConcurrentDictionary<Guid, HeldAttempt> _running = new();
    long _delivered;
    int _handling;

    /// <summary>TaskReady messages delivered to this worker since it started.</summary>
    public long Delivered => Interlocked.Read(ref _delivered);

    /// <summary>TaskReady messages being handled now: each holds one of the worker's slots.</summary>
    public int Handling => Volatile.Read(ref _handling);

    /// <summary>Notes a delivery; dispose the result when its handling ends.</summary>
    public IDisposable Receive()
    {
        Interlocked.Increment(ref _delivered);
        Interlocked.Increment(ref _handling);
        return new Handled(this);
    }

    /// <summary>Whether this worker holds the attempt with this token.</summary>
    public bool IsRunning(Guid token) => _running.ContainsKey(token);

    /// <summary>The attempts running now.</summary>
    public IReadOnlyList<HeldAttempt> Running => _running.Values.ToArray();

    /// <summary>Notes the attempt as running; dispose the result when it has ended and its report has gone out.</summary>
    public IDisposable Hold(TaskReady ready)
    {
        _running[ready.Token] = new HeldAttempt(ready.RunId, ready.TaskSlug, ready.Attempt);
        return new Release(this, ready.Token);
    }

    sealed class Handled(HeldAttempts owner) : IDisposable
    {
        int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
                Interlocked.Decrement(ref owner._handling);
        }
    }

    sealed class Release(HeldAttempts owner, Guid token) : IDisposable
    {
        public void Dispose() => owner._running.TryRemove(token, out _);
    }
}

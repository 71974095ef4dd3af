using System.Collections.Concurrent;
using Lume.Contracts;

namespace Lume.TaskWorker;

/// <summary>
/// The attempts this worker holds, from their start until their report has gone out: its heartbeat lists them, so the
/// Scheduler does not replace an attempt while this worker lives and may still report it, and a copy delivered again to
/// this same worker meanwhile is dropped without asking.
/// </summary>
public sealed class HeldAttempts
{
    readonly ConcurrentDictionary<Guid, HeldAttempt> _running = new();

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

    sealed class Release(HeldAttempts owner, Guid token) : IDisposable
    {
        public void Dispose() => owner._running.TryRemove(token, out _);
    }
}

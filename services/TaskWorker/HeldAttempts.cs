using System.Collections.Concurrent;
using Lume.Contracts;

namespace Lume.TaskWorker;

/// <summary>
/// The attempts this worker is running (its heartbeat lists them, so the Scheduler does not let another worker run a
/// redelivered copy while this one lives), and the tokens of those it ran lately (a copy delivered again to this same
/// worker is dropped without asking).
/// </summary>
public sealed class HeldAttempts(TimeProvider time)
{
    static readonly TimeSpan Remember = TimeSpan.FromMinutes(30);

    readonly ConcurrentDictionary<Guid, HeldAttempt> _running = new();
    readonly ConcurrentDictionary<Guid, DateTimeOffset> _ran = new();
    readonly TimeProvider _time = time;

    /// <summary>Whether this worker runs, or ran lately, the attempt with this token.</summary>
    public bool Knows(Guid token) => _running.ContainsKey(token) || _ran.ContainsKey(token);

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
        public void Dispose()
        {
            var now = owner._time.GetUtcNow();
            owner._ran[token] = now;
            owner._running.TryRemove(token, out _);
            foreach (var (old, at) in owner._ran)
                if (now - at > Remember)
                    owner._ran.TryRemove(old, out _);
        }
    }
}

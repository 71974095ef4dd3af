using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace Lume.Scheduler.Flows;

/// <summary>
/// Which worker pools are alive, from their registrations and heartbeats. Kept in memory: a Scheduler that
/// has just started has heard from nobody yet, so for one timeout after its start every pool counts as alive.
/// </summary>
public sealed class WorkerDirectory(IOptions<SchedulerOptions> options, TimeProvider time)
{
    readonly ConcurrentDictionary<string, DateTimeOffset> _lastSeen = new(StringComparer.Ordinal);
    DateTimeOffset _startedAt = time.GetUtcNow();

    /// <summary>Starts the grace period again: called when this Scheduler begins to hear heartbeats (a standby taking over).</summary>
    public void StartGrace() => _startedAt = time.GetUtcNow();

    TimeSpan Timeout => TimeSpan.FromSeconds(options.Value.WorkerTimeoutSeconds);

    public void Seen(string pool, DateTimeOffset at) =>
        _lastSeen.AddOrUpdate(pool, at, (_, previous) => at > previous ? at : previous);

    /// <summary>When a worker of the pool was last heard from, or null.</summary>
    public DateTimeOffset? LastSeen(string pool) => _lastSeen.TryGetValue(pool, out var at) ? at : null;

    public bool IsAlive(string pool, DateTimeOffset now) =>
        now - _startedAt < Timeout || (LastSeen(pool) is { } seen && now - seen < Timeout);
}

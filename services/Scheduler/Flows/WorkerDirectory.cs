using System.Collections.Concurrent;
using Lume.Contracts;
using MassTransit;
using Microsoft.Extensions.Options;

namespace Lume.Scheduler.Flows;

/// <summary>
/// Which worker pools are alive, from their registrations and heartbeats, and which attempts each live worker holds.
/// Kept in memory: a Scheduler that has just started has heard from nobody yet, so for one timeout after its start every
/// pool counts as alive.
/// </summary>
public sealed class WorkerDirectory(IOptions<SchedulerOptions> options, TimeProvider time)
{
    readonly ConcurrentDictionary<string, DateTimeOffset> _lastSeen = new(StringComparer.Ordinal);
    readonly ConcurrentDictionary<string, Heartbeat> _workers = new(StringComparer.Ordinal);

    // At: the worker's own clock, for its ordering; ReceivedAt: this Scheduler's, to compare with its own times.
    sealed record Heartbeat(string Pool, DateTimeOffset At, IReadOnlySet<HeldAttempt> Held, DateTimeOffset ReceivedAt);
    DateTimeOffset _startedAt = time.GetUtcNow();

    /// <summary>Starts the grace period again: called when this Scheduler begins to hear heartbeats (a standby taking over).</summary>
    public void StartGrace() => _startedAt = time.GetUtcNow();

    /// <summary>How long a live worker may go unheard: a worker that holds an attempt lists it in a heartbeat within this time.</summary>
    public TimeSpan Timeout => TimeSpan.FromSeconds(options.Value.WorkerTimeoutSeconds);

    public void Seen(string pool, DateTimeOffset at) =>
        _lastSeen.AddOrUpdate(pool, at, (_, previous) => at > previous ? at : previous);

    /// <summary>When a worker of the pool was last heard from, or null.</summary>
    public DateTimeOffset? LastSeen(string pool) => _lastSeen.TryGetValue(pool, out var at) ? at : null;

    public bool IsAlive(string pool, DateTimeOffset now) =>
        now - _startedAt < Timeout || (LastSeen(pool) is { } seen && now - seen < Timeout);

    /// <summary>Notes a worker's heartbeat and the attempts it lists as held.</summary>
    public void Heard(string worker, string pool, DateTimeOffset at, IReadOnlyList<HeldAttempt>? held)
    {
        Seen(pool, at);
        var entry = new Heartbeat(pool, at, (held ?? []).ToHashSet(), time.GetUtcNow());
        _workers.AddOrUpdate(worker, entry, (_, previous) => at >= previous.At ? entry : previous);
    }

    /// <summary>How many workers of the pool have been heard from within the timeout.</summary>
    public int LiveWorkers(string pool, DateTimeOffset now) => _workers.Values.Count(w => w.Pool == pool && now - w.At < Timeout);

    /// <summary>A worker other than <paramref name="except"/>, heard from within the timeout, whose last heartbeat lists the attempt; or null.</summary>
    public string? HolderOf(HeldAttempt attempt, string except, DateTimeOffset now) =>
        _workers.Where(w => w.Key != except && now - w.Value.At < Timeout && w.Value.Held.Contains(attempt)).Select(w => w.Key).FirstOrDefault();

    /// <summary>
    /// The attempts listed by workers that have since gone silent for the timeout (stopped, hung, cut off): each is
    /// given once, and the worker's listing is then forgotten. Nothing while this Scheduler may not have heard everyone.
    /// </summary>
    public IReadOnlyList<(string Worker, HeldAttempt Attempt)> TakeAbandoned(DateTimeOffset now)
    {
        if (!HeardEveryone(now))
            return [];
        var abandoned = new List<(string, HeldAttempt)>();
        foreach (var (worker, heard) in _workers)
        {
            if (now - heard.At < Timeout || heard.Held.Count == 0)
                continue;
            if (_workers.TryUpdate(worker, heard with { Held = new HashSet<HeldAttempt>() }, heard))
                abandoned.AddRange(heard.Held.Select(a => (worker, a)));
        }

        return abandoned;
    }

    /// <summary>
    /// Whether every live worker (heard within the timeout) has been heard since <paramref name="since"/>, a second after
    /// it at least: what a worker reported before such a heartbeat came before it on the Scheduler's queue. Never while
    /// this Scheduler may not have heard everyone yet.
    /// </summary>
    public bool HeardAllSince(DateTimeOffset since, DateTimeOffset now) =>
        HeardEveryone(now) && _workers.Values.Where(w => now - w.ReceivedAt < Timeout).All(w => w.ReceivedAt >= since + TimeSpan.FromSeconds(1));

    /// <summary>Whether this Scheduler has listened for one timeout since it started: before that, a live worker may not have been heard yet.</summary>
    public bool HeardEveryone(DateTimeOffset now) => now - _startedAt >= Timeout;
}

/// <summary>
/// Starts the directory's grace period again whenever the Scheduler's endpoint becomes ready (its start, a reconnect
/// after the broker came back): while it could not hear heartbeats, silence says nothing about the workers.
/// </summary>
public sealed class HeartbeatGrace(WorkerDirectory workers) : IReceiveEndpointObserver
{
    public Task Ready(ReceiveEndpointReady ready)
    {
        if (ready.InputAddress.AbsolutePath.EndsWith("/" + Lume.Hosting.LumeQueues.Scheduler, StringComparison.Ordinal))
            workers.StartGrace();
        return Task.CompletedTask;
    }

    public Task Stopping(ReceiveEndpointStopping stopping) => Task.CompletedTask;

    public Task Completed(ReceiveEndpointCompleted completed) => Task.CompletedTask;

    public Task Faulted(ReceiveEndpointFaulted faulted) => Task.CompletedTask;
}

namespace Lume.Scheduler.Runs;

/// <summary>
/// When each run next needs the Scheduler without a message to wake it: a retry's delay, an attempt's timeout, the run's own.
/// The times themselves are stored with the run (<see cref="TaskRecord.DueAt"/>, <see cref="RunRecord.DeadlineAt"/>); this
/// only keeps them in memory, so a starting Scheduler re-arms them from the store. A timer that fires for nothing is harmless:
/// the run checks what is really due.
/// </summary>
public sealed class RunTimers(TimeProvider time) : IDisposable
{
    readonly PriorityQueue<Guid, DateTimeOffset> _due = new();
    readonly Lock _lock = new();
    ITimer? _timer;
    DateTimeOffset? _armedFor;
    Func<Guid, Task>? _fire;

    /// <summary>Starts firing: <paramref name="fire"/> is called for each run whose time has come.</summary>
    public void Start(Func<Guid, Task> fire)
    {
        lock (_lock)
        {
            _fire = fire;
            Arm();
        }
    }

    /// <summary>Wakes the run at <paramref name="at"/> (or at once, if that has passed).</summary>
    public void Schedule(Guid runId, DateTimeOffset? at)
    {
        if (at is null)
            return;
        lock (_lock)
        {
            _due.Enqueue(runId, at.Value);
            if (_armedFor is null || at < _armedFor)
                Arm();
        }
    }

    void Arm()
    {
        if (_fire is null || !_due.TryPeek(out _, out var next))
        {
            _armedFor = null;
            return;
        }

        _armedFor = next;
        var wait = next - time.GetUtcNow();
        _timer ??= time.CreateTimer(_ => Tick(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _timer.Change(wait > TimeSpan.Zero ? wait : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
    }

    void Tick()
    {
        var now = time.GetUtcNow();
        var fired = new List<Guid>();
        Func<Guid, Task> fire;
        lock (_lock)
        {
            fire = _fire!;
            while (_due.TryPeek(out var runId, out var at) && at <= now)
            {
                _due.Dequeue();
                fired.Add(runId);
            }

            Arm();
        }

        foreach (var runId in fired.Distinct())
            _ = fire(runId);
    }

    public void Dispose() => _timer?.Dispose();
}

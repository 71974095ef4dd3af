using System.Collections.Concurrent;
using Lume.Contracts;
using MassTransit;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Lume.Scheduler.Runs;

/// <summary>
/// The runs whose tasks changed since <see cref="RunProgressPublisher"/> last told of them. Watchers (the web view) read a
/// run again when they hear it in <see cref="RunsProgressed"/>; nothing in the engine waits for it, so it is sent from one loop,
/// at most once a period per run, and never on the path that applies a run's events: noting a run costs that path one
/// dictionary write.
/// </summary>
public sealed class RunProgress
{
    readonly ConcurrentDictionary<Guid, RunRecord> _changed = new();

    /// <summary>Notes that <paramref name="run"/>'s tasks changed; a run that has ended is told by its end event instead.</summary>
    public void Note(RunRecord run)
    {
        if (run.State == RunState.Running)
            _changed[run.RunId] = run;
        else
            _changed.TryRemove(run.RunId, out _);
    }

    /// <summary>
    /// Takes the runs to tell of at <paramref name="now"/>: those still running and started at least
    /// <paramref name="minimumAge"/> before. Younger ones stay noted for a later call; ended ones are dropped.
    /// </summary>
    public IReadOnlyList<RunRecord> Take(DateTimeOffset now, TimeSpan minimumAge)
    {
        var due = new List<RunRecord>();
        foreach (var (runId, run) in _changed)
        {
            // The record is the one the run's events change, so its state is current; an event applied after the note
            // may have ended the run.
            if (run.State != RunState.Running)
                _changed.TryRemove(new KeyValuePair<Guid, RunRecord>(runId, run));
            else if (now - run.CreatedAt >= minimumAge && _changed.TryRemove(new KeyValuePair<Guid, RunRecord>(runId, run)))
                due.Add(run);
        }

        return due;
    }
}

/// <summary>
/// Publishes <see cref="RunsProgressed"/> about once a <see cref="Period"/>, listing the runs noted in <see cref="RunProgress"/>:
/// one message for all of them, as a thousand long runs at once (the bench's) made one each a cost the Scheduler felt. A run younger than <see cref="MinimumAge"/> is not told of yet: a short run is told by its end event alone, so a
/// thousand short runs publish nothing more. Only the active Scheduler applies events (a standby's start waits for the
/// lease, see <see cref="SchedulerLeaseHolder"/>, and it consumes nothing), so only it has runs to tell of.
/// </summary>
public sealed class RunProgressPublisher(RunProgress progress, IBus bus, TimeProvider time, ILogger<RunProgressPublisher> logger)
    : IHostedLifecycleService, IDisposable
{
    public static readonly TimeSpan Period = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan MinimumAge = TimeSpan.FromSeconds(1);

    readonly CancellationTokenSource _stopping = new();
    Task _publishing = Task.CompletedTask;

    // Once the bus is up: nothing can be noted before its consumers run.
    public Task StartedAsync(CancellationToken cancellationToken)
    {
        _publishing = PublishAsync(_stopping.Token);
        return Task.CompletedTask;
    }

    async Task PublishAsync(CancellationToken cancellationToken)
    {
        using var every = new PeriodicTimer(Period, time);
        try
        {
            while (await every.WaitForNextTickAsync(cancellationToken))
            {
                var now = time.GetUtcNow();
                var due = progress.Take(now, MinimumAge);
                foreach (var runs in due.Chunk(RunsProgressed.MaxRuns))
                    await TellAsync(runs, now, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    async Task TellAsync(RunRecord[] runs, DateTimeOffset now, CancellationToken cancellationToken)
    {
        try
        {
            // A broker that does not answer must not hold up the next period's runs for long.
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(Period * 5);
            await bus.Publish(new RunsProgressed(runs.Select(run => new RunProgressed(run.RunId, run.Flow.Name, now)).ToArray()), timeout.Token);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            // A watcher misses one tick and hears the next, or the run's end; the run itself is not touched.
            logger.LogDebug("Could not publish RunsProgressed for {Runs} runs: {Error}", runs.Length, e.Message);
        }
    }

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await _publishing.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => _stopping.Dispose();
}

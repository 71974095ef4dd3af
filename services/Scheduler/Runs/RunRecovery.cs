using Lume.Hosting;
using MassTransit;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Lume.Scheduler.Runs;

/// <summary>
/// Once the bus is up, carries on with every run the store holds unfinished: sends what their stored state calls for
/// and that may not have left before the last stop (TaskReady of a released attempt, a run's end), and re-arms their
/// timers. On the in-memory transport the queues died with the process that ran those runs, so they are ended as
/// interrupted instead, unless another embedded process is still running them.
/// </summary>
public sealed class RunRecovery(
    IRunStore store, RunPipeline pipeline, RunTimers timers, Flows.WorkerDirectory workers, IBus bus, IOptions<LumeOptions> options, TimeProvider time,
    ILogger<RunRecovery> logger) : IHostedLifecycleService, IDisposable
{
    static readonly TimeSpan RetryTimerAfter = TimeSpan.FromSeconds(1);

    readonly CancellationTokenSource _stopping = new();
    FileStream? _embeddedLock;
    Task _recovering = Task.CompletedTask;
    Task _sweeping = Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken)
    {
        timers.Start(FireAsync);
        _recovering = RecoverAsync(_stopping.Token);
        _sweeping = SweepAsync(_stopping.Token);
        return Task.CompletedTask;
    }

    // The attempts of workers that went silent are given to others: a hung or stopped worker does not hold them forever.
    async Task SweepAsync(CancellationToken cancellationToken)
    {
        using var every = new PeriodicTimer(TimeSpan.FromSeconds(2), time);
        try
        {
            while (await every.WaitForNextTickAsync(cancellationToken))
            {
                foreach (var (worker, attempt) in workers.TakeAbandoned(time.GetUtcNow()))
                {
                    try
                    {
                        await pipeline.ApplyAsync(bus, attempt.RunId, new AttemptAbandoned(worker, attempt), repeated: false, cancellationToken);
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        logger.LogWarning("Could not release again task {TaskSlug} of run {RunId}, held by silent worker {Worker}: {Error}",
                            attempt.TaskSlug, attempt.RunId, worker, e.Message);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    async Task RecoverAsync(CancellationToken cancellationToken)
    {
        var embedded = options.Value.BrokerAddress is null;
        if (embedded && !TakeEmbeddedLock())
        {
            logger.LogDebug("Another embedded Lume process uses {DataDir}; its runs are left to it", options.Value.DataPath);
            return;
        }

        try
        {
            var unfinished = await store.ListUnfinishedAsync(cancellationToken);
            object message = embedded ? new RunInterrupted("the lume process that ran it ended before the run did") : ResendUnsent.Instance;
            foreach (var runId in unfinished)
                await pipeline.ApplyAsync(bus, runId, message, repeated: false, cancellationToken);
            if (unfinished.Count > 0)
                logger.LogInformation(embedded ? "Ended {Count} runs left unfinished by an earlier process" : "Carrying on with {Count} unfinished runs",
                    unfinished.Count);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            // The process would serve new runs but leave the old ones without an owner: better to stop and be restarted.
            logger.LogCritical(e, "Could not carry on with the unfinished runs in the store; stopping");
            Environment.ExitCode = 1;
            throw;
        }
    }

    // One embedded process at a time owns the runs in a data folder: the one holding this lock.
    bool TakeEmbeddedLock()
    {
        try
        {
            Directory.CreateDirectory(options.Value.DataPath);
            _embeddedLock = new FileStream(Path.Combine(options.Value.DataPath, "scheduler.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    async Task FireAsync(Guid runId)
    {
        try
        {
            var now = time.GetUtcNow();
            var due = new TimersDue
            {
                HolderOf = attempt => workers.HolderOf(attempt, "", now),
                HeardAllSince = since => workers.HeardAllSince(since, now),
            };
            await pipeline.ApplyAsync(bus, runId, due, repeated: false, _stopping.Token);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            // The timer is stored with the run: try again shortly (a store or broker outage).
            logger.LogWarning("Timer of run {RunId} failed, trying again in {Delay}: {Error}", runId, RetryTimerAfter, e.Message);
            timers.Schedule(runId, time.GetUtcNow() + RetryTimerAfter);
        }
    }

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await _recovering.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _sweeping.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
        _embeddedLock?.Dispose();
        _stopping.Dispose();
    }
}

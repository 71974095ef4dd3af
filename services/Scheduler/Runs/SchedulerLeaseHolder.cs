using Lume.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Lume.Scheduler.Runs;

/// <summary>
/// One Scheduler at a time is active on a store. On a broker, a Scheduler takes the store's lease before its bus
/// starts; while another holds it, this one stands by (its start waits here) and takes over once the lease lapses,
/// within <see cref="SchedulerOptions.LeaseSeconds"/> of the active one's death. The holder renews the lease every
/// third of that time, and stops at once, with exit code 1, if it cannot: a Scheduler that may no longer be the only
/// one must not go on. The store's lease keeps apart Schedulers that share a store; <see cref="SchedulerBrokerLock"/>
/// refuses one whose store differs from the active one's. Embedded (in-memory) Schedulers each run their own process's
/// runs and take no lease.
/// </summary>
public sealed class SchedulerLeaseHolder(
    ISchedulerLease lease, SchedulerBrokerLock brokerLock, IOptions<SchedulerOptions> options, IOptions<LumeOptions> lume, TimeProvider time,
    IHostApplicationLifetime lifetime, ILogger<SchedulerLeaseHolder> logger) : IHostedService, IDisposable
{
    readonly string _holder = $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid():N}";
    readonly CancellationTokenSource _stopping = new();
    Task _renewing = Task.CompletedTask;
    bool _held;

    TimeSpan Duration => TimeSpan.FromSeconds(options.Value.LeaseSeconds);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (lume.Value.BrokerAddress is null)
            return;
        var said = false;
        while (!await TryHoldAsync(cancellationToken))
        {
            if (await HolderIsGoneAsync(cancellationToken) is { } lapsed)
            {
                // The holder was a process of this machine that no longer exists (killed, then restarted as this one): its
                // lease counts as lapsed, so a restart does not wait out the lease of the process it replaces.
                var now = time.GetUtcNow();
                if (await lease.TryHoldLeaseAsync(_holder, lapsed.AddTicks(1), now + Duration, cancellationToken))
                    break;
            }

            if (!said)
            {
                var holder = await lease.LeaseHolderAsync(cancellationToken);
                // The ready line for supervisors and tests: this process is up, as a standby.
                logger.LogInformation("Standing by: Scheduler {Holder} is active on this store (lease until {Until:u}); taking over when it stops",
                    holder?.Holder ?? "?", holder?.Until);
                said = true;
            }

            await Task.Delay(Duration / 5, time, cancellationToken);
        }

        _held = true;
        _renewing = RenewAsync(_stopping.Token);
        try
        {
            await brokerLock.AcquireAsync(Lost, cancellationToken);
        }
        catch (Exception)
        {
            await StopAsync(CancellationToken.None);
            throw;
        }

        if (said)
            logger.LogWarning("Taking over as the active Scheduler");
    }

    // The holder's lease end, when the holder was a process of this machine that is gone.
    async Task<DateTimeOffset?> HolderIsGoneAsync(CancellationToken cancellationToken)
    {
        if (await lease.LeaseHolderAsync(cancellationToken) is not var (holder, until))
            return null;
        var parts = holder.Split('-');
        if (parts.Length < 3 || string.Join('-', parts[..^2]) != Environment.MachineName
            || !int.TryParse(parts[^2], System.Globalization.CultureInfo.InvariantCulture, out var pid) || pid == Environment.ProcessId)
            return null;
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return process.HasExited ? until : null;
        }
        catch (ArgumentException)
        {
            return until; // no such process
        }
    }

    Task<bool> TryHoldAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        return lease.TryHoldLeaseAsync(_holder, now, now + Duration, cancellationToken);
    }

    async Task RenewAsync(CancellationToken stopping)
    {
        var renewedAt = time.GetUtcNow();
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(Duration / 3, time, stopping);
                if (await TryHoldAsync(stopping))
                {
                    renewedAt = time.GetUtcNow();
                    continue;
                }

                Lost("another Scheduler holds the lease");
                return;
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning("Could not renew the Scheduler lease: {Error}", e.Message);
                if (time.GetUtcNow() - renewedAt >= Duration * 2 / 3)
                {
                    Lost($"the store did not answer for {(time.GetUtcNow() - renewedAt).TotalSeconds:0} s");
                    return;
                }
            }
        }
    }

    void Lost(string why)
    {
        logger.LogCritical("Lost the Scheduler lease ({Why}); stopping with exit code 1 so that only one Scheduler is active", why);
        Environment.ExitCode = 1;
        _held = false;
        lifetime.StopApplication();
        _ = Task.Delay(TimeSpan.FromSeconds(10), TimeProvider.System).ContinueWith(_ => Environment.Exit(1), TaskScheduler.Default);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await _renewing.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (_held)
            await lease.ReleaseLeaseAsync(_holder, cancellationToken);
    }

    public void Dispose() => _stopping.Dispose();
}

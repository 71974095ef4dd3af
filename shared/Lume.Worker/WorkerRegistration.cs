using Lume.Contracts;
using Lume.Flows;
using Lume.Hosting;
using Lume.Tasks;
using MassTransit;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Lume.Worker;

/// <summary>
/// Once the bus is up, registers this worker's pool, task types and flows with the Scheduler, then sends a
/// heartbeat every few seconds. Start-up waits for the first answer, so flows can be run as soon as the host
/// has started; if no Scheduler answers in time, the worker starts anyway and keeps trying in the background.
/// Flows the Scheduler refuses stop the start with their problems.
/// The same loop watches the worker itself: a worker whose task consumer has been unhealthy, whose heartbeats have
/// failed, for <see cref="WorkerOptions.UnhealthyExitSeconds"/>, or that has been deaf for four heartbeats (the broker
/// has tasks waiting on the pool's queue, this worker has free slots and gets none) stops with exit code 1, so that its
/// supervisor starts a fresh one, instead of living on without taking work.
/// </summary>
public sealed class WorkerRegistration(
    IClientFactory clients,
    IBusControl bus,
    IHostApplicationLifetime lifetime,
    HeldAttempts held,
    TaskQueueProbe probe,
    TaskRegistry registry,
    IEnumerable<FlowDefinition> flows,
    IMessageDataRepository messageData,
    IOptions<WorkerOptions> options,
    TimeProvider time,
    ILogger<WorkerRegistration> logger) : IHostedLifecycleService
{
    static readonly TimeSpan FirstAnswerTimeout = TimeSpan.FromSeconds(10);

    // How long a heartbeat or a registration may take to go out before the loop stops waiting for it. A broker restart
    // can leave MassTransit's bus wedged (seen after a SIGSTOP across one): a publish that never returns must not stop
    // the watch that would see it and end the worker.
    static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(10);

    readonly CancellationTokenSource _stopping = new();
    Task _heartbeats = Task.CompletedTask;
    bool _registered;

    public async Task StartedAsync(CancellationToken cancellationToken)
    {
        try
        {
            await RegisterAsync(cancellationToken);
        }
        catch (RequestTimeoutException)
        {
            logger.LogWarning("No Scheduler answered within {Timeout}; this worker keeps trying to register", FirstAnswerTimeout);
        }

        _heartbeats = HeartbeatsAsync(_stopping.Token);
    }

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await _heartbeats.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    async Task RegisterAsync(CancellationToken cancellationToken)
    {
        var worker = options.Value;
        var (inline, claimCheck) = await FlowTransfer.PackAsync(messageData, flows.Select(registry.WithDefaults), cancellationToken);
        var request = new RegisterWorker(
            worker.Name, worker.Pool, registry.Names.Order(StringComparer.Ordinal).ToArray(), inline, time.GetUtcNow(), claimCheck);
        var client = clients.CreateRequestClient<RegisterWorker>(RequestTimeout.After(s: (int)FirstAnswerTimeout.TotalSeconds));
        var answer = await client.GetResponse<WorkerRegistered>(request, cancellationToken);
        if (answer.Message.Problems.Count > 0)
            throw new FlowDefinitionException(answer.Message.Problems);
        _registered = true;
        logger.LogInformation("Registered with the Scheduler: pool {Pool}, {FlowCount} flows, task types {TaskTypes}",
            worker.Pool, flows.Count(), request.TaskTypes);
    }

    async Task HeartbeatsAsync(CancellationToken stopping)
    {
        var interval = TimeSpan.FromSeconds(options.Value.HeartbeatSeconds);
        var lastHeartbeat = time.GetUtcNow();
        var delivered = held.Delivered;
        DateTimeOffset? unhealthySince = null, deafSince = null;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(interval, time, stopping);
                var now = time.GetUtcNow();
                unhealthySince = ConsumerHealthy() ? null : unhealthySince ?? now;
                var waiting = await probe.WaitingAsync(stopping);
                var deliveredNow = held.Delivered;
                deafSince = LooksDeaf(waiting, held.Handling, options.Value.Concurrency, deliveredNow, delivered) ? deafSince ?? now : null;
                logger.LogDebug("Self-check: {Waiting} tasks waiting on the queue, {Handling} slots busy, {Delivered} delivered since the last check, " +
                    "endpoint {Health}, deaf for {Deaf:0} s", waiting?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown",
                    held.Handling, deliveredNow - delivered, unhealthySince is null ? "healthy" : "unhealthy", (now - (deafSince ?? now)).TotalSeconds);
                delivered = deliveredNow;
                if (Stuck(now - (unhealthySince ?? now), now - lastHeartbeat, now - (deafSince ?? now), waiting))
                    return;
                // Each heartbeat is a fresh send, and one that has not gone out in time is given up: a publish caught by a
                // broker restart can wait for ever on a channel that is gone, while a new one goes out on the new channel.
                // Waiting for the stuck one instead kept a reconnected worker unheard until the Scheduler thought it dead.
                try
                {
                    await SendLimit.WithinAsync(token => _registered
                        ? bus.Publish(new WorkerHeartbeat(options.Value.Name, options.Value.Pool, time.GetUtcNow(), held.Running), token)
                        : RegisterAsync(token), SendTimeout, time, stopping);
                }
                catch (TimeoutException)
                {
                    throw new TimeoutException($"the heartbeat did not go out within {SendTimeout.TotalSeconds:0} s; " +
                        $"the last one went out {(time.GetUtcNow() - lastHeartbeat).TotalSeconds:0} s ago");
                }

                lastHeartbeat = time.GetUtcNow();
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is RequestTimeoutException or FlowDefinitionException)
            {
                logger.LogWarning("Registering with the Scheduler failed: {Message}", e.Message);
            }
            catch (Exception e)
            {
                // A broker that is away (closed channel, connection refused) comes back; the loop must outlive it.
                logger.LogWarning("Heartbeat failed, trying again in {Interval}: {Error}", interval, e.Message);
            }
        }
    }

    /// <summary>
    /// Whether a worker looks deaf between two checks: tasks wait on its queue, it has a free slot, and nothing was
    /// delivered to it since the last check. A live consumer with a free slot is given a waiting task at once, so this
    /// holding for a while means the broker no longer delivers to this worker, whatever MassTransit reports.
    /// </summary>
    public static bool LooksDeaf(uint? waiting, int handling, int concurrency, long delivered, long deliveredBefore) =>
        waiting > 0 && handling < concurrency && delivered == deliveredBefore;

    // The endpoint of the pool's task queue, as MassTransit sees it: faulted or stopped after a broker restart it took badly.
    bool ConsumerHealthy()
    {
        var queue = LumeQueues.Tasks(options.Value.Pool);
        var health = bus.CheckHealth();
        return health.Endpoints.Values
            .Where(e => e.InputAddress.AbsolutePath.EndsWith("/" + queue, StringComparison.Ordinal))
            .Any(e => e.Status == BusHealthStatus.Healthy);
    }

    // Deafness is seen, not guessed (see LooksDeaf), so a few heartbeats of it are enough; runs wait on a deaf worker's queue.
    TimeSpan DeafLimit => TimeSpan.FromSeconds(Math.Min(options.Value.UnhealthyExitSeconds, 4 * options.Value.HeartbeatSeconds));

    bool Stuck(TimeSpan unhealthyFor, TimeSpan sinceHeartbeat, TimeSpan deafFor, uint? waiting)
    {
        var limit = TimeSpan.FromSeconds(options.Value.UnhealthyExitSeconds);
        string reason;
        if (deafFor >= DeafLimit)
            reason = $"the broker has had tasks waiting on {LumeQueues.Tasks(options.Value.Pool)} ({waiting} now) for {deafFor.TotalSeconds:0} s " +
                "and delivered none to this worker, which has free slots: its consumer is gone";
        else if (unhealthyFor >= limit)
            reason = $"its task consumer has been unhealthy for {unhealthyFor.TotalSeconds:0} s";
        else if (sinceHeartbeat >= limit)
            reason = $"its last heartbeat went out {sinceHeartbeat.TotalSeconds:0} s ago";
        else
            return false;
        logger.LogCritical("This worker cannot take tasks: {Reason}; stopping with exit code 1 so that its supervisor starts a fresh one", reason);
        Environment.ExitCode = 1;
        lifetime.StopApplication();
        // A bus that cannot reach its broker may take long to stop; the supervisor is owed an exit, not a wait.
        _ = Task.Delay(TimeSpan.FromSeconds(30), TimeProvider.System).ContinueWith(_ => Environment.Exit(1), TaskScheduler.Default);
        return true;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken)
    {
        _stopping.Dispose();
        return Task.CompletedTask;
    }
}

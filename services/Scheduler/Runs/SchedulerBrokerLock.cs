using Lume.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace Lume.Scheduler.Runs;

/// <summary>
/// The broker's half of "one active Scheduler": the store's lease keeps two Schedulers of one store apart, but two
/// Schedulers with separate stores on one broker would each take their own lease and split the events between them,
/// each dropping the other's as unknown runs. So the active Scheduler also holds two exclusive queues on a connection
/// of its own: <c>lume-scheduler-active</c>, which only one connection on the broker can hold, and
/// <c>lume-scheduler-store-{store id}</c>, which says which store the holder uses. A Scheduler that finds the lock held
/// by its own store's former holder (a process that has not quite gone) waits for the broker to drop it; one that finds
/// it held by a Scheduler with another store is refused at start, and a holder that loses the lock to one (the lock
/// connection dropped and another took it) stops.
/// </summary>
public sealed class SchedulerBrokerLock(
    ISchedulerLease store, IOptions<LumeOptions> lume, TimeProvider time, ILogger<SchedulerBrokerLock> logger) : IAsyncDisposable
{
    /// <summary>The exclusive queue only the active Scheduler's lock connection holds.</summary>
    public const string ActiveQueue = "lume-scheduler-active";

    // The broker drops a dead holder's connection, and with it the lock, after two missed heartbeats.
    static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(5);
    static readonly TimeSpan Pause = TimeSpan.FromSeconds(1);

    // How long the lock may be seen held by another store before that counts: the holder declares its store's queue
    // right after it takes the lock.
    static readonly TimeSpan Settle = TimeSpan.FromSeconds(3);

    readonly CancellationTokenSource _stopping = new();
    IConnection? _connection;
    string _storeQueue = "";
    Action<string> _lost = _ => { };

    enum Outcome { Taken, HeldBySameStore, HeldByOtherStore, BrokerAway }

    /// <summary>Takes the lock, waiting while this store's former holder keeps it; refuses the start when another store's Scheduler holds it.</summary>
    /// <param name="lost">Called if the lock is lost to a Scheduler with another store after it was taken.</param>
    public async Task AcquireAsync(Action<string> lost, CancellationToken cancellationToken)
    {
        _lost = lost;
        _storeQueue = "lume-scheduler-store-" + await store.StoreIdAsync(cancellationToken);
        DateTimeOffset? otherSince = null;
        var said = false;
        while (true)
        {
            var outcome = await TryTakeAsync(cancellationToken);
            if (outcome == Outcome.Taken)
                return;
            var now = time.GetUtcNow();
            otherSince = outcome == Outcome.HeldByOtherStore ? otherSince ?? now : null;
            if (now - otherSince >= Settle)
                throw new LumeStartupException(
                    "another Scheduler is active on this broker with a different store; two Schedulers with separate stores would " +
                    "each lose the other's runs. Give every Scheduler on a broker the same store (the same LUME_SCHEDULER_DB__* " +
                    "MongoDB, or the same SQLite file through LUME_DATA_DIR on one machine), or give each its own broker or virtual host");
            if (outcome == Outcome.HeldBySameStore && !said)
            {
                logger.LogInformation("Standing by: the broker still holds the lock of this store's last active Scheduler; taking over when it lets go");
                said = true;
            }

            await Task.Delay(Pause, time, cancellationToken);
        }
    }

    async Task<Outcome> TryTakeAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (_connection is null)
            {
                var connection = await lume.Value.BrokerAddress!.ConnectionFactory(Heartbeat).CreateConnectionAsync("lume-scheduler-lock", cancellationToken);
                connection.ConnectionShutdownAsync += (_, reason) => OnShutdownAsync(connection, reason);
                _connection = connection;
            }

            try
            {
                await using var take = await _connection.CreateChannelAsync(cancellationToken: cancellationToken);
                await take.QueueDeclareAsync(ActiveQueue, durable: false, exclusive: true, autoDelete: true, cancellationToken: cancellationToken);
                await take.QueueDeclareAsync(_storeQueue, durable: false, exclusive: true, autoDelete: true, cancellationToken: cancellationToken);
                return Outcome.Taken;
            }
            catch (OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == Constants.ResourceLocked)
            {
            }

            // Held by another connection: whether it holds this store's queue too says whose it is.
            try
            {
                await using var look = await _connection.CreateChannelAsync(cancellationToken: cancellationToken);
                await look.QueueDeclarePassiveAsync(_storeQueue, cancellationToken);
                return Outcome.HeldBySameStore; // not locked, no one's: a holder between its two declares
            }
            catch (OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == Constants.ResourceLocked)
            {
                return Outcome.HeldBySameStore;
            }
            catch (OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == Constants.NotFound)
            {
                return Outcome.HeldByOtherStore;
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning("Could not reach the broker for the Scheduler lock, trying again: {Error}", e.Message);
            await DropConnectionAsync();
            return Outcome.BrokerAway;
        }
    }

    // The lock connection dropped (a broker restart): the exclusive queues went with it, so take them again as soon as
    // the broker is back. Losing them to a Scheduler with another store ends this one; its own store's lease keeps any
    // other Scheduler of this store waiting meanwhile.
    Task OnShutdownAsync(IConnection connection, ShutdownEventArgs reason)
    {
        if (_stopping.IsCancellationRequested || !ReferenceEquals(connection, _connection))
            return Task.CompletedTask;
        logger.LogWarning("Lost the connection that holds the Scheduler lock ({Reason}); taking the lock again", reason.ReplyText);
        _ = Task.Run(() => RetakeAsync(_stopping.Token));
        return Task.CompletedTask;
    }

    async Task RetakeAsync(CancellationToken stopping)
    {
        await DropConnectionAsync();
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(Pause, time, stopping);
                switch (await TryTakeAsync(stopping))
                {
                    case Outcome.Taken:
                        logger.LogInformation("Holding the Scheduler lock again");
                        return;
                    case Outcome.HeldByOtherStore:
                        _lost("a Scheduler with another store took the broker's Scheduler lock");
                        return;
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
        }
    }

    ValueTask DropConnectionAsync() => BrokerAddress.CloseQuietlyAsync(Interlocked.Exchange(ref _connection, null));

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await DropConnectionAsync();
        _stopping.Dispose();
    }
}

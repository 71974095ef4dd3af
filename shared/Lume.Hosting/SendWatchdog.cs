using System.Collections.Concurrent;
using MassTransit;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;

namespace Lume.Hosting;

/// <summary>
/// Stops a service whose bus can no longer send while the broker takes messages, with exit code 1 for its supervisor
/// to start a fresh one. After a broker restart, RabbitMQ's .NET client can leave a publish waiting for a confirmation
/// that never comes, and every later one with it, for good (rabbitmq-dotnet-client#1930, still in 7.2.2): consumers
/// come back, nothing leaves. A Scheduler caught so holds its runs' next tasks unsent and every accepted run waits for
/// ever; a fresh process sends what its store says is unsent. A broker that is down, or blocks publishers (a memory or
/// disk alarm), is waited for, not run from: the check publishes on a fresh connection, and only when the broker
/// confirms that, while this process has sent nothing for <see cref="Limit"/>, does the service stop.
/// </summary>
public sealed class SendWatchdog(BrokerAddress broker, IHostApplicationLifetime lifetime, TimeProvider time, ILogger<SendWatchdog> logger)
    : BackgroundService, ISendObserver, IPublishObserver
{
    /// <summary>How long sends may all hang or fail, with none going out, before the broker is asked whether it takes messages.</summary>
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    static readonly TimeSpan CheckEvery = TimeSpan.FromSeconds(5);
    static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(5);

    readonly ConcurrentDictionary<object, long> _inFlight = new(ReferenceEqualityComparer.Instance);
    long _lastSent;
    long _failingSince; // 0: the last send that ended went out

    /// <summary>
    /// Whether sends look stuck at <paramref name="now"/>: some send has been under way, or sends have failed, for the
    /// limit, and nothing went out in that time. Ticks of <see cref="TimeProvider.GetTimestamp"/>; 0 means none.
    /// </summary>
    public static bool LooksStuck(long now, long oldestInFlight, long failingSince, long lastSent, long limitTicks) =>
        now - lastSent >= limitTicks &&
        ((oldestInFlight != 0 && now - oldestInFlight >= limitTicks) || (failingSince != 0 && now - failingSince >= limitTicks));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        Interlocked.Exchange(ref _lastSent, time.GetTimestamp());
        var limit = (long)(Limit.TotalSeconds * time.TimestampFrequency);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await Task.Delay(CheckEvery, time, stoppingToken);
                var now = time.GetTimestamp();
                var oldest = _inFlight.Values.DefaultIfEmpty(0).Min();
                if (!LooksStuck(now, oldest, Interlocked.Read(ref _failingSince), Interlocked.Read(ref _lastSent), limit))
                    continue;
                if (await BrokerTakesMessagesAsync(broker, stoppingToken) is { } refused)
                {
                    logger.LogWarning("Nothing has been sent for {Seconds:0} s; waiting for the broker, which does not take messages now: {Reason}",
                        time.GetElapsedTime(Interlocked.Read(ref _lastSent)).TotalSeconds, refused);
                    continue;
                }

                logger.LogCritical("This service cannot send: nothing it sent has gone out for {Seconds:0} s, while the broker takes " +
                    "messages on a fresh connection (its client connection is stuck); stopping with exit code 1 so that its supervisor " +
                    "starts a fresh one", time.GetElapsedTime(Interlocked.Read(ref _lastSent)).TotalSeconds);
                Environment.ExitCode = 1;
                lifetime.StopApplication();
                // A bus that cannot send may not stop either; the supervisor is owed an exit, not a wait.
                _ = Task.Delay(TimeSpan.FromSeconds(30), TimeProvider.System).ContinueWith(_ => Environment.Exit(1), TaskScheduler.Default);
                return;
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Null when the broker confirmed a persistent message published on a fresh connection; otherwise why not.</summary>
    public static async Task<string?> BrokerTakesMessagesAsync(BrokerAddress broker, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(ProbeTimeout);
        IConnection? connection = null;
        try
        {
            connection = await broker.ConnectionFactory().CreateConnectionAsync("lume-send-watchdog", limit.Token);
            await using var channel = await connection.CreateChannelAsync(
                new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), limit.Token);
            // To the default exchange with a key no queue has: the broker confirms it and drops it.
            await channel.BasicPublishAsync("", "lume-send-watchdog-probe", mandatory: false,
                new BasicProperties { Persistent = true }, ReadOnlyMemory<byte>.Empty, limit.Token);
            return null;
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            return e is OperationCanceledException ? $"no confirmation within {ProbeTimeout.TotalSeconds:0} s" : e.Message;
        }
        finally
        {
            await BrokerAddress.CloseQuietlyAsync(connection);
        }
    }

    Task Started(object context)
    {
        _inFlight[context] = time.GetTimestamp();
        return Task.CompletedTask;
    }

    Task Ended(object context, bool sent)
    {
        _inFlight.TryRemove(context, out _);
        if (sent)
        {
            Interlocked.Exchange(ref _lastSent, time.GetTimestamp());
            Interlocked.Exchange(ref _failingSince, 0);
        }
        else
            Interlocked.CompareExchange(ref _failingSince, time.GetTimestamp(), 0);
        return Task.CompletedTask;
    }

    public Task PreSend<T>(SendContext<T> context) where T : class => Started(context);

    public Task PostSend<T>(SendContext<T> context) where T : class => Ended(context, sent: true);

    public Task SendFault<T>(SendContext<T> context, Exception exception) where T : class => Ended(context, sent: false);

    public Task PrePublish<T>(PublishContext<T> context) where T : class => Started(context);

    public Task PostPublish<T>(PublishContext<T> context) where T : class => Ended(context, sent: true);

    public Task PublishFault<T>(PublishContext<T> context, Exception exception) where T : class => Ended(context, sent: false);
}

using Lume.Hosting;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;

namespace Lume.Worker;

/// <summary>
/// Asks the broker, on a small connection of its own, how many tasks wait on this worker's pool queue. MassTransit can
/// report a task endpoint healthy while the broker no longer delivers to it (seen after broker restarts: the queue lost
/// the consumer, the channel lived on); only the broker's own count shows that work waits while this worker gets none.
/// </summary>
public sealed class TaskQueueProbe(IOptions<LumeOptions> lume, IOptions<WorkerOptions> worker) : IAsyncDisposable
{
    IConnection? _connection;

    /// <summary>Tasks ready on the pool's queue; null when there is no broker (in-memory) or it could not be asked now.</summary>
    public async Task<uint?> WaitingAsync(CancellationToken cancellationToken)
    {
        if (lume.Value.BrokerAddress is not { } broker)
            return null;
        // A broker that accepts the connection and then stalls must not hold up the worker's watch.
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(TimeSpan.FromSeconds(5));
        try
        {
            _connection ??= await broker.ConnectionFactory().CreateConnectionAsync("lume-worker-probe", limit.Token);
            await using var channel = await _connection.CreateChannelAsync(cancellationToken: limit.Token);
            return (await channel.QueueDeclarePassiveAsync(LumeQueues.Tasks(worker.Value.Pool), limit.Token)).MessageCount;
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // The broker away, or the queue not declared yet: no evidence either way. The next ask opens a fresh connection.
            await DisposeAsync();
            return null;
        }
    }

    public ValueTask DisposeAsync() => BrokerAddress.CloseQuietlyAsync(Interlocked.Exchange(ref _connection, null));
}

using System.Collections.Concurrent;
using Lume.Contracts;
using MassTransit;

namespace Lume.Hosting;

/// <summary>
/// The one temporary queue on which a client process (the CLI, the HTTP API) hears how the runs it started go:
/// <see cref="RunAccepted"/>, <see cref="RunCompleted"/>, <see cref="RunFailed"/>, <see cref="RunCancelled"/>, and a
/// <see cref="Fault{T}"/> of its <see cref="RunRequested"/>. Each is handed to whoever watches its run id.
/// </summary>
/// <remarks>
/// A queue per run cost a queue and its bindings on the broker for every run, and on the in-memory transport a check of
/// every binding made so far (MassTransit validates its whole graph), so an embedded host slowed down with each run it
/// had waited for. One queue per process, connected on first use, costs neither.
/// </remarks>
public sealed class RunEvents(IBus bus, TimeProvider time)
{
    /// <summary>How long to wait for the bus to be ready to listen (a broker that is down or not AMQP never gets there).</summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(20);

    readonly ConcurrentDictionary<Guid, Action<object>> _watchers = new();
    readonly SemaphoreSlim _connecting = new(1, 1);
    HostReceiveEndpointHandle? _listener;

    /// <summary>
    /// Hands every run event of <paramref name="runId"/> to <paramref name="heard"/> until disposed. Watch before the request
    /// goes, so not even the run's first event can be missed.
    /// </summary>
    public IDisposable Watch(Guid runId, Action<object> heard)
    {
        _watchers[runId] = heard;
        return new Watching(this, runId);
    }

    /// <summary>Connects the queue, once; a <see cref="TimeoutException"/> when the bus is not ready within <see cref="ConnectTimeout"/>.</summary>
    public async Task ListenAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _listener) is not null)
            return;
        await _connecting.WaitAsync(cancellationToken);
        try
        {
            if (_listener is not null)
                return;
            var handle = bus.ConnectReceiveEndpoint(new TemporaryEndpointDefinition(), KebabCaseEndpointNameFormatter.Instance, e =>
            {
                e.Handler<RunAccepted>(c => Heard(c.Message.RunId, c.Message));
                e.Handler<RunCompleted>(c => Heard(c.Message.RunId, c.Message));
                e.Handler<RunFailed>(c => Heard(c.Message.RunId, c.Message));
                e.Handler<RunCancelled>(c => Heard(c.Message.RunId, c.Message));
                e.Handler<Fault<RunRequested>>(c => Heard(c.Message.Message.RunId, c.Message));
            });
            try
            {
                await handle.Ready.WaitAsync(ConnectTimeout, time, cancellationToken);
            }
            catch
            {
                await handle.StopAsync(CancellationToken.None);
                throw;
            }

            Volatile.Write(ref _listener, handle);
        }
        finally
        {
            _connecting.Release();
        }
    }

    Task Heard(Guid runId, object message)
    {
        if (_watchers.TryGetValue(runId, out var heard))
            heard(message);
        return Task.CompletedTask;
    }

    sealed class Watching(RunEvents events, Guid runId) : IDisposable
    {
        public void Dispose() => events._watchers.TryRemove(runId, out _);
    }
}

using System.Collections.Immutable;
using Lume.Contracts;
using MassTransit;

namespace Lume.Hosting;

/// <summary>
/// The one temporary queue on which a client process (the CLI, the HTTP API) hears how runs go:
/// <see cref="RunAccepted"/>, <see cref="RunProgressed"/> (when asked for), <see cref="RunCompleted"/>, <see cref="RunFailed"/>,
/// <see cref="RunCancelled"/>, and a <see cref="Fault{T}"/> of a <see cref="RunRequested"/>. Each is handed to every
/// watcher of its run id (a run may be watched by several: two browser tabs) and to every watcher of all runs.
/// </summary>
/// <remarks>
/// A queue per run cost a queue and its bindings on the broker for every run, and on the in-memory transport a check of
/// every binding made so far (MassTransit validates its whole graph), so an embedded host slowed down with each run it
/// had waited for. One queue per process, connected on first use, costs neither.
/// </remarks>
/// <param name="progress">
/// Hear <see cref="RunProgressed"/> too (from <see cref="RunsProgressed"/>: each second, every long run of the deployment
/// that changed), which a process that only waits for its runs' ends (the CLI) does not want on its queue. The HTTP API, whose streams show runs as they
/// go, registers its RunEvents with it.
/// </param>
public sealed class RunEvents(IBus bus, TimeProvider time, bool progress = false)
{
    /// <summary>How long to wait for the bus to be ready to listen (a broker that is down or not AMQP never gets there).</summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(20);

    // Copied on change under the lock, so that handing out an event, the frequent part, reads them without locking.
    readonly Lock _changing = new();
    ImmutableDictionary<Guid, ImmutableArray<Action<object>>> _byRun = ImmutableDictionary<Guid, ImmutableArray<Action<object>>>.Empty;
    ImmutableArray<Action<object>> _everyRun = [];
    readonly SemaphoreSlim _connecting = new(1, 1);
    HostReceiveEndpointHandle? _listener;

    /// <summary>
    /// Hands every run event of <paramref name="runId"/> to <paramref name="heard"/> until disposed. Watch before the request
    /// goes, so not even the run's first event can be missed.
    /// </summary>
    /// <remarks><paramref name="heard"/> runs on the bus's receive thread: it must be quick and must not throw (hand the event on, e.g. to a channel).</remarks>
    public IDisposable Watch(Guid runId, Action<object> heard)
    {
        lock (_changing)
            _byRun = _byRun.SetItem(runId, _byRun.GetValueOrDefault(runId, []).Add(heard));
        return new Watching(() =>
        {
            lock (_changing)
            {
                var left = _byRun.GetValueOrDefault(runId, []).Remove(heard);
                _byRun = left.IsEmpty ? _byRun.Remove(runId) : _byRun.SetItem(runId, left);
            }
        });
    }

    /// <summary>Hands every run event of every run to <paramref name="heard"/> until disposed, as <see cref="Watch"/> does for one run.</summary>
    public IDisposable WatchAll(Action<object> heard)
    {
        lock (_changing)
            _everyRun = _everyRun.Add(heard);
        return new Watching(() =>
        {
            lock (_changing)
                _everyRun = _everyRun.Remove(heard);
        });
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
                if (progress)
                    e.Handler<RunsProgressed>(c =>
                    {
                        foreach (var run in c.Message.Runs)
                            Heard(run.RunId, run);
                        return Task.CompletedTask;
                    });
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
        if (Volatile.Read(ref _byRun).TryGetValue(runId, out var watchers))
            foreach (var heard in watchers)
                heard(message);
        foreach (var heard in _everyRun)
            heard(message);
        return Task.CompletedTask;
    }

    sealed class Watching(Action stop) : IDisposable
    {
        int _stopped;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _stopped, 1) == 0)
                stop();
        }
    }
}

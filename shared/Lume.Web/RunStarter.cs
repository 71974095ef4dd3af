using System.Collections.Concurrent;
using Lume.Contracts;
using MassTransit;

namespace Lume.Web;

/// <summary>
/// Publishes run requests and hears whether the Scheduler accepted or rejected each, as the CLI does: one temporary
/// queue, bound to the run events, serves every request this process waits for.
/// </summary>
public sealed class RunStarter(IBus bus, TimeProvider time)
{
    /// <summary>How long to wait for the bus to be ready to listen for the answer (a broker that is down never gets there).</summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(20);

    readonly ConcurrentDictionary<Guid, TaskCompletionSource<object>> _waiting = new();
    readonly SemaphoreSlim _connecting = new(1, 1);
    HostReceiveEndpointHandle? _listener;

    /// <summary>
    /// Publishes <paramref name="request"/> and returns what was heard first about its run within <paramref name="wait"/>
    /// (<see cref="RunAccepted"/>, <see cref="RunFailed"/> or <see cref="Fault{T}"/> of the request), or null when nothing was.
    /// </summary>
    public async Task<object?> StartAsync(RunRequested request, TimeSpan wait, CancellationToken cancellationToken)
    {
        var heard = new TaskCompletionSource<object>(TaskCreationOptions.RunContinuationsAsynchronously);
        // Registered before the request goes, so the answer cannot come before anyone listens for it.
        _waiting[request.RunId] = heard;
        try
        {
            await ListenAsync(cancellationToken);
            await bus.Publish(request, cancellationToken);
            await Task.WhenAny(heard.Task, Task.Delay(wait, time, cancellationToken));
            cancellationToken.ThrowIfCancellationRequested();
            return heard.Task.IsCompleted ? await heard.Task : null;
        }
        finally
        {
            _waiting.TryRemove(request.RunId, out _);
        }
    }

    async Task ListenAsync(CancellationToken cancellationToken)
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
                e.Handler<RunFailed>(c => Heard(c.Message.RunId, c.Message));
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
        if (_waiting.TryGetValue(runId, out var waiter))
            waiter.TrySetResult(message);
        return Task.CompletedTask;
    }
}

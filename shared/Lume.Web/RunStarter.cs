using Lume.Contracts;
using Lume.Hosting;
using MassTransit;

namespace Lume.Web;

/// <summary>Publishes run requests and hears whether the Scheduler accepted or rejected each, on the process's one queue of run events, as the CLI does.</summary>
public sealed class RunStarter(IBus bus, RunEvents events, TimeProvider time)
{
    /// <summary>How long to wait for the bus to be ready to listen for the answer (a broker that is down never gets there).</summary>
    public static readonly TimeSpan ConnectTimeout = RunEvents.ConnectTimeout;

    /// <summary>
    /// Publishes <paramref name="request"/> and returns what was heard first about its run within <paramref name="wait"/>
    /// (<see cref="RunAccepted"/>, <see cref="RunFailed"/> or <see cref="Fault{T}"/> of the request), or null when nothing was.
    /// </summary>
    public async Task<object?> StartAsync(RunRequested request, TimeSpan wait, CancellationToken cancellationToken)
    {
        var heard = new TaskCompletionSource<object>(TaskCreationOptions.RunContinuationsAsynchronously);
        // Watched before the request goes, so the answer cannot come before anyone listens for it.
        using var watching = events.Watch(request.RunId, message =>
        {
            if (message is RunAccepted or RunFailed or Fault<RunRequested>)
                heard.TrySetResult(message);
        });
        await events.ListenAsync(cancellationToken);
        await bus.Publish(request, cancellationToken);
        await Task.WhenAny(heard.Task, Task.Delay(wait, time, cancellationToken));
        cancellationToken.ThrowIfCancellationRequested();
        return heard.Task.IsCompleted ? await heard.Task : null;
    }
}

using System.Runtime.ExceptionServices;
using MassTransit;
using MassTransit.Middleware;

namespace Lume.Hosting;

/// <summary>
/// The error pipe of every Lume receive endpoint. A message whose handling failed while its service was stopping goes
/// back to its queue, to be delivered again (to a fresh process, or flagged as redelivered); any other failure takes
/// MassTransit's default way: a Fault event, and the message moved to the endpoint's <c>_error</c> queue.
/// </summary>
/// <remarks>
/// A stopping worker cancels its running tasks, and MassTransit keeps delivering until its endpoint has stopped: each of
/// those TaskReady messages fails at once. Moved to <c>lume-tasks_error</c>, they would be lost to their runs, which would
/// wait for ever for tasks no worker takes. On RabbitMQ, a rethrown failure is a nack with requeue.
/// </remarks>
public sealed class RequeueWhileStopping(CancellationToken stopping) : IFilter<ExceptionReceiveContext>
{
    /// <summary>Sets the error pipe of an endpoint: requeue while <paramref name="stopping"/> is cancelled, else MassTransit's default.</summary>
    public static void Configure(IReceiveEndpointConfigurator endpoint, CancellationToken stopping) =>
        endpoint.ConfigureError(error =>
        {
            error.UseFilter(new RequeueWhileStopping(stopping));
            error.UseFilter(new GenerateFaultFilter());
            error.UseFilter(new ErrorTransportFilter());
        });

    public Task Send(ExceptionReceiveContext context, IPipe<ExceptionReceiveContext> next)
    {
        if (stopping.IsCancellationRequested)
            ExceptionDispatchInfo.Throw(context.Exception);
        return next.Send(context);
    }

    public void Probe(ProbeContext context) => context.CreateFilterScope("requeueWhileStopping");
}

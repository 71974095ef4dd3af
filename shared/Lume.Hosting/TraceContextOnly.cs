using System.Diagnostics;
using Microsoft.Extensions.Hosting;

namespace Lume.Hosting;

/// <summary>
/// Where no trace exporter is configured: Lume's and MassTransit's spans are still started, so their trace context
/// propagates and logs carry a TraceId, but as propagation data only, so instrumentation skips filling them in.
/// </summary>
sealed class TraceContextOnly : IHostedService, IDisposable
{
    readonly ActivityListener _listener = new()
    {
        ShouldListenTo = source => source.Name is "MassTransit" or LumeTelemetry.Name,
        Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.PropagationData,
    };

    public Task StartAsync(CancellationToken cancellationToken)
    {
        ActivitySource.AddActivityListener(_listener);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => _listener.Dispose();
}

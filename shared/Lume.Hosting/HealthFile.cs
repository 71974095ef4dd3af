using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Lume.Hosting;

/// <summary>
/// Services have no HTTP port, so container health is a file: while the host's health checks (MassTransit's bus
/// check among them) pass, <c>LUME_HEALTH_FILE</c> exists and is touched every few seconds; otherwise it is removed.
/// A container health check then reads <c>test -f FILE</c> plus the file's age.
/// </summary>
sealed class HealthFile(HealthCheckService health, IOptions<LumeOptions> options, TimeProvider time) : BackgroundService
{
    static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var path = options.Value.HealthFile;
        if (string.IsNullOrWhiteSpace(path))
            return;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                // Checked after a pause, the first time too: the bus connects in the background after start.
                await Task.Delay(Interval, time, stoppingToken);
                var report = await health.CheckHealthAsync(stoppingToken);
                if (report.Status == HealthStatus.Healthy)
                    await File.WriteAllTextAsync(path, time.GetUtcNow().ToString("O"), stoppingToken);
                else
                    File.Delete(path);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            File.Delete(path);
        }
    }
}

using Lume.Contracts;
using Lume.Hosting;
using Lume.Scheduler.Runs;
using MassTransit;
using MassTransit.RetryPolicies;
using Microsoft.Extensions.Hosting;

namespace Lume.Scheduler.Consumers;

/// <summary>
/// Embedded, takes the reports of the workers in this process directly (see <see cref="InProcessTasks"/>), as
/// <see cref="TaskReportsConsumer"/> takes them from the broker: applied to their run as one change, and tried again,
/// backing off to 30 s, while the store refuses them.
/// </summary>
public sealed class InProcessReports(RunPipeline pipeline, IBus bus, IHostApplicationLifetime lifetime, InProcessTasks? inProcess = null) : IHostedService
{
    static readonly IRetryPolicy StoreRetry = Retry.Exponential(int.MaxValue, TimeSpan.Zero, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(50));

    public Task StartAsync(CancellationToken cancellationToken)
    {
        inProcess?.AcceptReports(ApplyAsync);
        return Task.CompletedTask;
    }

    // Called by the worker's report sender, inside its span: what the reports release is sent under it.
    Task ApplyAsync(IReadOnlyList<object> reports)
    {
        var stopping = lifetime.ApplicationStopping;
        return Task.WhenAll(reports.GroupBy(TaskReports.RunOf).Select(run => StoreRetry.Retry(
            () => pipeline.ApplyAsync(bus, run.Key, run.ToArray(), repeated: false, stopping), stopping)));
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

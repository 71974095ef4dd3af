using Lume.Hosting;
using MassTransit;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Lume.TaskWorker;

/// <summary>
/// Embedded, takes the pool's tasks from the Scheduler in this process (see <see cref="InProcessTasks"/>) rather than
/// from the bus: <see cref="WorkerOptions.Concurrency"/> tasks at once, each run as <see cref="TaskReadyConsumer"/> runs
/// one. A task's slot is free once it has run; its report goes on to the Scheduler meanwhile.
/// </summary>
public sealed class InProcessTaskLoop(TaskRunner runner, IBus bus, IOptions<WorkerOptions> options, InProcessTasks? inProcess = null) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (inProcess is null)
            return Task.CompletedTask;
        var tasks = inProcess.Serve(options.Value.Pool);
        return Task.WhenAll(Enumerable.Range(0, options.Value.Concurrency).Select(_ => Task.Run(async () =>
        {
            await foreach (var (ready, trace) in tasks.ReadAllAsync(stoppingToken))
                await runner.RunAsync(ready, redelivered: false, bus, trace);
        }, stoppingToken)));
    }
}

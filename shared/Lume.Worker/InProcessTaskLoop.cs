using Lume.Hosting;
using MassTransit;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Lume.Worker;

/// <summary>
/// Embedded, takes the pool's tasks from the Scheduler in this process (see <see cref="InProcessTasks"/>) rather than
/// from the bus: <see cref="WorkerOptions.Concurrency"/> tasks at once, each run as <see cref="TaskReadyConsumer"/> runs
/// one. A task's slot is free once it has run; its report goes on to the Scheduler meanwhile, and the task it releases
/// next (a chain's next hop) is run by the same loop on the same thread.
/// </summary>
public sealed class InProcessTaskLoop(TaskRunner runner, IBus bus, IOptions<WorkerOptions> options, InProcessTasks? inProcess = null) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (inProcess is null)
            return Task.CompletedTask;
        // Each loop goes on once its task has run; the task's report goes on to the Scheduler meanwhile.
        return inProcess.ServeAsync(options.Value.Pool, options.Value.Concurrency,
            (ready, trace) => runner.RunAsync(ready, redelivered: false, bus, trace), stoppingToken);
    }
}

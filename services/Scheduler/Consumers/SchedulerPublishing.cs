using Lume.Contracts;
using Lume.Hosting;
using Lume.Scheduler.Runs;
using MassTransit;

namespace Lume.Scheduler.Consumers;

/// <summary>The apply-store-publish cycle that every task event of a run goes through.</summary>
static class SchedulerPublishing
{
    // Sends awaiting the broker's confirmation at once: enough to keep the channel busy, few enough that releasing the
    // 20,000 tasks of a wide flow does not hold 20,000 serialised messages in memory at the same time.
    const int InFlight = 256;

    /// <summary>Sends each TaskReady to the queue of the run's worker pool and publishes the events, many at a time.</summary>
    public static async Task PublishAllAsync(ConsumeContext context, RunRecord run, IReadOnlyList<object> messages)
    {
        if (messages.Count == 0)
            return;
        var tasks = messages.Any(m => m is TaskReady) ? await context.GetSendEndpoint(LumeQueues.Address(LumeQueues.Tasks(run.Pool))) : null;
        foreach (var chunk in messages.Chunk(InFlight))
            await Task.WhenAll(chunk.Select(message => message is TaskReady ready
                ? tasks!.Send(ready, context.CancellationToken)
                : context.Publish(message, message.GetType(), context.CancellationToken)));
    }

    /// <summary>
    /// Applies an event to its run and publishes what it caused once the change is stored. A repeated delivery
    /// changes nothing, but when it is a redelivery or a retry, the messages it caused are published again, as a
    /// crash or a failed send may have come between the store and the publish.
    /// </summary>
    public static async Task ApplyAsync(
        ConsumeContext context, ActiveRuns runs, Guid runId, string? taskSlug, DateTimeOffset now, Func<RunRecord, Step> apply)
    {
        var repeated = context.ReceiveContext.Redelivered || context.GetRetryAttempt() > 0;
        var applied = await runs.ApplyAsync(runId, run =>
        {
            var step = apply(run);
            return step.Changed || !repeated ? step : new Step(false, RunProgression.Resume(run, taskSlug, now));
        });
        if (applied is var (run, step))
            await PublishAllAsync(context, run, step.Messages);
    }
}

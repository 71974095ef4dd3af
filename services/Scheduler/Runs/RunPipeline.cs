using System.Diagnostics;
using Lume.Contracts;
using Lume.Hosting;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace Lume.Scheduler.Runs;

/// <summary>
/// The one path every change of a run takes: apply (<see cref="RunProgression"/>), store (<see cref="ActiveRuns"/>),
/// arm the timers it set, send what it caused, and record that it was sent. State is always stored before the
/// messages it causes leave, and a message the broker confirmed is never sent again by a later redelivery or restart.
/// </summary>
public sealed class RunPipeline(
    ActiveRuns runs, RunTimers timers, TaskTimes taskTimes, RunProgress progress, TimeProvider time, ILogger<RunPipeline> logger,
    InProcessTasks? inProcess = null)
{
    // Sends awaiting the broker's confirmation at once: enough to keep the channel busy, few enough that releasing the
    // 20,000 tasks of a wide flow does not hold 20,000 serialised messages in memory at the same time.
    const int InFlight = 256;

    /// <summary>Applies a consumed event to its run; see the overload below.</summary>
    public Task<RunRecord?> ApplyAsync(ConsumeContext context, Guid runId, object message) => ApplyAsync(context, runId, [message]);

    /// <summary>Applies consumed events of one run, in order, as one change; see the overload below.</summary>
    public Task<RunRecord?> ApplyAsync(ConsumeContext context, Guid runId, IReadOnlyList<object> messages) =>
        ApplyAsync(context, runId, messages, context.ReceiveContext.Redelivered || context.GetRetryAttempt() > 0, context.CancellationToken);

    /// <summary>Applies one event; see the overload below.</summary>
    public Task<RunRecord?> ApplyAsync<TEndpoint>(TEndpoint endpoint, Guid runId, object message, bool repeated, CancellationToken cancellationToken)
        where TEndpoint : IPublishEndpoint, ISendEndpointProvider =>
        ApplyAsync(endpoint, runId, [message], repeated, cancellationToken);

    /// <summary>
    /// Applies <paramref name="messages"/> to their run, in order, stores the change once, and sends what they caused. A
    /// <paramref name="repeated"/> delivery (a redelivery or a retry) that changes nothing also sends what the stored state
    /// calls for but is not known to have gone out: a crash or a failed send may have come between the store and the send.
    /// </summary>
    /// <returns>The run, or null when there is no such run.</returns>
    public async Task<RunRecord?> ApplyAsync<TEndpoint>(TEndpoint endpoint, Guid runId, IReadOnlyList<object> messages, bool repeated, CancellationToken cancellationToken)
        where TEndpoint : IPublishEndpoint, ISendEndpointProvider
    {
        var now = time.GetUtcNow();
        var drops = new List<(object Message, Drop Drop)>();
        var applied = await runs.ApplyAsync(runId, run =>
        {
            drops.Clear(); // applied again after a failed store: only this pass counts
            var step = Step.Unchanged;
            foreach (var message in messages)
            {
                var next = RunProgression.Apply(run, message, now);
                if (next.Dropped is { } dropped)
                    drops.Add((message, dropped));
                else if (message is TaskCompleted completed && run.Tasks.TryGetValue(completed.TaskSlug, out var task))
                    taskTimes.Record(run.Pool, task.Type, completed.FinishedAt - completed.StartedAt);
                step = step.Then(next);
            }

            return repeated && !step.Changed
                ? step with { Messages = RunProgression.Apply(run, ResendUnsent.Instance, now).Messages }
                : step;
        });
        if (applied is not var (run, step))
        {
            foreach (var message in messages)
                Dropped(runId, message, new Drop("unknown_run", "the Scheduler's store has no such run"));
            return null;
        }

        foreach (var (message, drop) in drops)
            Dropped(runId, message, drop);
        if (step.Changed && step.Messages.Any(IsEnding))
            RunTelemetry.RecordEnd(run);
        if (step.Changed)
            progress.Note(run); // for watchers, told later by RunProgressPublisher; an ended run is forgotten
        timers.Schedule(runId, step.WakeAt);
        await SendAsync(endpoint, run, step.Messages, cancellationToken);
        return run;
    }

    /// <summary>Stores a new run and sends its first tasks; false when the run id is taken (a repeated request).</summary>
    public async Task<bool> CreateAsync<TEndpoint>(TEndpoint endpoint, RunRecord run, Step step, CancellationToken cancellationToken)
        where TEndpoint : IPublishEndpoint, ISendEndpointProvider
    {
        if (!await runs.CreateAsync(run, cancellationToken))
            return false;
        timers.Schedule(run.RunId, step.WakeAt);
        await SendAsync(endpoint, run, step.Messages, cancellationToken);
        return true;
    }

    // Sends the messages, and then each further slice of a wide release that the confirmation of the one before lets go.
    async Task SendAsync<TEndpoint>(TEndpoint endpoint, RunRecord run, IReadOnlyList<object> messages, CancellationToken cancellationToken)
        where TEndpoint : IPublishEndpoint, ISendEndpointProvider
    {
        while (messages.Count > 0)
            messages = await SendOnceAsync(endpoint, run, messages, cancellationToken);
    }

    async Task<IReadOnlyList<object>> SendOnceAsync<TEndpoint>(TEndpoint endpoint, RunRecord run, IReadOnlyList<object> messages, CancellationToken cancellationToken)
        where TEndpoint : IPublishEndpoint, ISendEndpointProvider
    {
        var outbox = messages.Where(m => m is TaskReady or CheckCache or RunRequested || IsEnding(m)).ToArray();
        try
        {
            var ready = messages.OfType<TaskReady>().ToArray();
            // Embedded, the pool's workers are in this process: handed over, the tasks are as good as confirmed.
            var handed = ready.Length > 0 && inProcess?.TryDispatch(run.Pool, ready, Activity.Current?.Context ?? default) == true;
            var tasks = ready.Length > 0 && !handed ? await endpoint.GetSendEndpoint(LumeQueues.Address(LumeQueues.Tasks(run.Pool))) : null;
            var sends = (handed ? [] : taskTimes.Pack(run.Pool, ready).Select(batch => batch.Count == 1 ? (object)batch[0] : new TasksReady(batch)))
                .Concat(messages.Where(m => m is not TaskReady));
            foreach (var chunk in sends.Chunk(InFlight))
                await Task.WhenAll(chunk.Select(message => message is TaskReady or TasksReady
                    ? tasks!.Send(message, message.GetType(), cancellationToken)
                    : endpoint.Publish(message, message.GetType(), cancellationToken)));
        }
        catch (Exception)
        {
            // Some may have gone: they stay "to be sent", and the event's retry or the next start sends them.
            if (outbox.Length > 0)
                await runs.ApplyAsync(run.RunId, r => RunProgression.Apply(r, new MessagesNotSent(outbox), time.GetUtcNow()));
            throw;
        }

        if (outbox.Length == 0)
            return [];
        var sent = await runs.ApplyAsync(run.RunId, r => RunProgression.Apply(r, new MessagesSent(outbox), time.GetUtcNow()));
        return sent?.Step.Messages ?? [];
    }

    void Dropped(Guid runId, object message, Drop drop)
    {
        LumeTelemetry.EventsDropped.Add(1, new TagList { { "lume.event", message.GetType().Name }, { "lume.reason", drop.Kind } });
        // A forged or oversized report is worth an operator's eye; a duplicate or a late report is routine.
        var level = drop.Kind is "wrong_token" or "oversized" or "malformed" ? LogLevel.Warning : LogLevel.Debug;
        logger.Log(level, "{Event} for run {RunId} changed nothing ({Kind}): {Reason}", message.GetType().Name, runId, drop.Kind, drop.Reason);
    }

    static bool IsEnding(object message) => message is RunCompleted or RunFailed or RunCancelled;
}

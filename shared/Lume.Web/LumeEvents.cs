using System.Threading.Channels;
using Lume.Contracts;
using Lume.Hosting;
using MassTransit;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace Lume.Web;

/// <summary>The API's event streams: what the process's one queue of run events (<see cref="RunEvents"/>) hears, passed on to browsers.</summary>
static partial class LumeApi
{
    // A browser that reads too slowly loses the oldest events rather than this process's memory; the page reads the
    // list again now and then, so a lost event costs it a late row, not a wrong one.
    const int BufferedEvents = 1_000;

    public static async Task<IResult> StreamAllRunsAsync(RunEvents events, IOptions<GatewayOptions> options, CancellationToken cancellationToken)
    {
        var heard = Channel.CreateBounded<RunEventData>(new BoundedChannelOptions(BufferedEvents) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        var watching = events.WatchAll(message =>
        {
            if (Describe(message) is { } described)
                heard.Writer.TryWrite(described);
        });
        return await OpenStreamAsync(watching, () => AskAsync("Scheduler", options, cancellationToken, async cancellationToken =>
        {
            await events.ListenAsync(cancellationToken);
            return new EventStream(watching, async send =>
            {
                while (await send.WaitAsync(heard.Reader))
                    while (heard.Reader.TryRead(out var next))
                        await send.SendAsync("run", next);
            });
        }));
    }

    static RunEventData? Describe(object message) => message switch
    {
        RunAccepted m => new(m.RunId, m.Flow, "accepted", m.AcceptedAt),
        RunProgressed m => new(m.RunId, m.Flow, "progressed", m.At),
        RunCompleted m => new(m.RunId, m.Flow, "completed", m.FinishedAt),
        // A rejected request never became a run: there is nothing to show for it.
        RunFailed { Kind: not RunFailureKind.Rejected } m => new(m.RunId, m.Flow, "failed", m.FinishedAt),
        RunCancelled m => new(m.RunId, m.Flow, "cancelled", m.FinishedAt),
        _ => null,
    };

    public static async Task<IResult> StreamRunAsync(string id, RunEvents events, IClientFactory clients, IOptions<GatewayOptions> options,
        CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(id, out var runId))
            return NotAGuid(id);
        // Reads are coalesced: one is in flight at a time, and whatever is heard meanwhile makes one more, not one each.
        var changed = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
        // Watched before the first read, so that nothing that happens after it is missed.
        var watching = events.Watch(runId, message =>
        {
            if (message is not Fault<RunRequested>)
                changed.Writer.TryWrite(true);
        });
        return await OpenStreamAsync(watching, () => AskAsync("Scheduler", options, cancellationToken, async cancellationToken =>
        {
            await events.ListenAsync(cancellationToken);
            var reader = Client<GetRun>(clients, options);
            var run = await reader.ReadRunAsync(runId, cancellationToken);
            if (run is null)
                return RunNotFound(runId);
            return new EventStream(watching, async send =>
            {
                await send.SendAsync("snapshot", run);
                var sent = run.Tasks.ToDictionary(t => t.Slug, Mark, StringComparer.Ordinal);
                while (run.State == RunState.Running && await send.WaitAsync(changed.Reader))
                {
                    changed.Reader.TryRead(out _);
                    if (await reader.ReadRunAsync(runId, send.Aborted) is not { } now)
                        break;
                    var tasks = now.Tasks.Where(t => !sent.TryGetValue(t.Slug, out var last) || last != Mark(t)).ToArray();
                    foreach (var task in tasks)
                        sent[task.Slug] = Mark(task);
                    await send.SendAsync("update", new RunUpdate(new RunUpdateState(now.State, now.FinishedAt, now.FailedTask, now.Error, now.TaskCount), tasks));
                    run = now;
                }

                await send.SendAsync("end", new { });
            });
        }));
    }

    // What of a task the page shows: when any of it differs from what was last sent, the task is sent again.
    readonly record struct TaskMark(TaskState State, int Attempt, DateTimeOffset? ReadyAt, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt,
        DateTimeOffset? RetryAt, string? Result, string? ErrorType, string? Error, string? Worker, Guid? SubflowRunId, int PastAttempts);

    static TaskMark Mark(TaskSnapshot t) => new(t.State, t.Attempt, t.ReadyAt, t.StartedAt, t.FinishedAt, t.RetryAt, t.Result?.GetRawText(),
        t.ErrorType, t.Error, t.Worker, t.SubflowRunId, t.PastAttempts?.Count ?? 0);

    // The stream owns the watch once it is returned; any other answer (a problem) or a fault ends the watch here.
    static async Task<IResult> OpenStreamAsync(IDisposable watching, Func<Task<IResult>> open)
    {
        IResult? result = null;
        try
        {
            result = await open();
            return result;
        }
        finally
        {
            if (result is not EventStream)
                watching.Dispose();
        }
    }
}

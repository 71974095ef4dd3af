using System.Text.Json;

namespace Lume.Contracts;

/// <summary>
/// A worker host announces itself to the Scheduler when it starts: its pool (the queue its workers share),
/// the task types it offers and the flows it defines (each in the JSON form of Lume.Flows). Answered with
/// <see cref="WorkerRegistered"/>.
/// </summary>
/// <param name="FlowsData">
/// Flows whose JSON runs past <see cref="FlowLimits.InlineBytes"/> in all travel by claim check instead (MassTransit
/// message data, in the folder the services share), as one JSON array; <paramref name="Flows"/> is then empty.
/// </param>
public sealed record RegisterWorker(
    string Worker, string Pool, IReadOnlyList<string> TaskTypes, IReadOnlyList<JsonElement> Flows, DateTimeOffset At,
    MassTransit.MessageData<System.IO.Stream>? FlowsData = null);

/// <summary>
/// Registers a flow defined in a file, not in a worker host's code (<c>lume flows register FILE</c>): its JSON form, for
/// a pool whose workers offer every task type it uses. Answered with <see cref="FlowRegistration"/>.
/// </summary>
/// <param name="FlowData">A flow whose JSON runs past <see cref="FlowLimits.InlineBytes"/> travels by claim check instead, as a JSON array of the one flow; <paramref name="Flow"/> is then JSON null.</param>
public sealed record RegisterFlow(JsonElement Flow, string Pool, MassTransit.MessageData<System.IO.Stream>? FlowData = null);

/// <summary>How flow definitions travel in <see cref="RegisterWorker"/> and <see cref="RegisterFlow"/>.</summary>
public static class FlowLimits
{
    /// <summary>
    /// The most flow JSON a registration carries in its body. A 100,000-task flow is tens of megabytes: in a message it
    /// costs the broker that much, and the Scheduler several buffers of twice that (the frame, the envelope and the
    /// message each parsed whole), which its memory keeps long after. By claim check it is read a piece at a time.
    /// </summary>
    public const int InlineBytes = 1 << 20;
}

/// <summary>The answer to <see cref="RegisterFlow"/>: registered when <paramref name="Problems"/> is empty; otherwise every problem found.</summary>
public sealed record FlowRegistration(string Flow, string Version, string Pool, IReadOnlyList<string> Problems);

/// <summary>The Scheduler stored the worker's flows; <paramref name="Problems"/> lists any it refused (a broken graph, a name and version already served by another pool).</summary>
public sealed record WorkerRegistered(string Worker, IReadOnlyList<string> Problems);

/// <summary>
/// A worker is alive. Sent every few seconds so the Scheduler knows which pools can take work, and which attempts this
/// worker holds (a redelivered copy of one of them is not run elsewhere while it lives).
/// </summary>
public sealed record WorkerHeartbeat(string Worker, string Pool, DateTimeOffset At, IReadOnlyList<HeldAttempt>? Held = null);

/// <summary>Asks the Scheduler which flows it serves; answered with <see cref="FlowList"/>.</summary>
public sealed record ListFlows(bool AllVersions);

/// <summary>The flows the Scheduler serves.</summary>
public sealed record FlowList(IReadOnlyList<FlowInfo> Flows);

/// <summary>A served flow: its pool, its parameters (with defaults as JSON, or null) and its task slugs.</summary>
public sealed record FlowInfo(
    string Name,
    string Version,
    string Pool,
    IReadOnlyList<FlowParameterInfo> Parameters,
    IReadOnlyList<string> Tasks,
    bool PoolAlive);

/// <summary>A flow parameter, and its default when it has one.</summary>
/// <param name="Required">A run must give it a value. Said apart from <paramref name="Default"/>, whose null on the wire may also be a default of JSON null.</param>
public sealed record FlowParameterInfo(string Name, JsonElement? Default, bool Required);

/// <summary>Asks the Scheduler for the most recent runs; answered with <see cref="RunList"/>.</summary>
/// <param name="Flow">Only runs of this flow; null: every flow.</param>
/// <param name="State">Only runs in this state; null: every state.</param>
public sealed record ListRuns(int Limit, string? Flow = null, RunState? State = null);

/// <summary>Recent runs, newest first.</summary>
public sealed record RunList(IReadOnlyList<RunListEntry> Runs);

/// <summary>One run in <see cref="RunList"/>.</summary>
/// <param name="TaskCounts">How many of the run's tasks (mapped tasks' children included) are in each task state, by the state's wire name; states with none are left out.</param>
public sealed record RunListEntry(
    Guid RunId, string Flow, string Version, RunState State, DateTimeOffset CreatedAt, DateTimeOffset? FinishedAt,
    IReadOnlyDictionary<string, int>? TaskCounts = null);

/// <summary>Asks the Scheduler for the graph of a flow version: its tasks and what each waits for. Answered with <see cref="FlowGraph"/> or <see cref="FlowNotFound"/>.</summary>
public sealed record GetFlowGraph(string Flow, string Version);

/// <summary>The graph of a flow version, its tasks in the flow's order.</summary>
public sealed record FlowGraph(string Flow, string Version, IReadOnlyList<FlowGraphTask> Tasks);

/// <summary>One task of a <see cref="FlowGraph"/>.</summary>
/// <param name="Upstream">The slugs of the tasks it waits for: those whose outputs it takes, its explicit upstreams, its case conditions.</param>
/// <param name="Mapped">Runs as one child per element of its mapped arguments (children are <c>slug[0]</c>, <c>slug[1]</c>, ...).</param>
/// <param name="Subflow">For a subflow task, the flow its child run runs; null otherwise.</param>
/// <param name="Trigger">When it runs, by its upstream tasks' states: <c>all_successful</c>, <c>all_finished</c>, <c>manual_only</c>, ...</param>
public sealed record FlowGraphTask(string Slug, string Type, IReadOnlyList<string> Upstream, bool Mapped, string? Subflow, string Trigger);

/// <summary>The Scheduler serves no such flow version; <paramref name="Problem"/> says so, naming it.</summary>
public sealed record FlowNotFound(string Flow, string Version, string Problem);

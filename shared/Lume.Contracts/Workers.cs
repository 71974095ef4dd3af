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
public sealed record ListRuns(int Limit);

/// <summary>Recent runs, newest first.</summary>
public sealed record RunList(IReadOnlyList<RunListEntry> Runs);

/// <summary>One run in <see cref="RunList"/>.</summary>
public sealed record RunListEntry(Guid RunId, string Flow, string Version, RunState State, DateTimeOffset CreatedAt, DateTimeOffset? FinishedAt);

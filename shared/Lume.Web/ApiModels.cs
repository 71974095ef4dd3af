using System.Text.Json;
using Lume.Contracts;

namespace Lume.Web;

/// <summary>The body of <c>POST /api/runs</c>.</summary>
/// <param name="Flow">The flow to run.</param>
/// <param name="Parameters">One JSON value per flow parameter, as an object; omitted: none.</param>
/// <param name="Version">A flow version, or null for the newest.</param>
/// <param name="TimeoutSeconds">Cancel the run if it has not ended this long after it was accepted; null: the flow's own timeout.</param>
public sealed record StartRunBody(string Flow, IReadOnlyDictionary<string, JsonElement>? Parameters, string? Version, double? TimeoutSeconds);

/// <summary>The answer to <c>POST /api/runs</c>: the Scheduler accepted the run.</summary>
/// <param name="Version">The flow version that runs; null when the run was found stored but its acceptance was not heard.</param>
/// <param name="TaskCount">How many tasks the run started with; null as for <paramref name="Version"/>.</param>
public sealed record RunStarted(Guid RunId, string Flow, string? Version, int? TaskCount, string Location);

/// <summary>One run in <c>GET /api/runs</c>.</summary>
/// <param name="DurationSeconds">From creation to the end, or to now while the run goes on.</param>
/// <param name="TaskCounts">How many of its tasks are in each task state, by the state's name; states with none are left out.</param>
public sealed record RunSummary(
    Guid RunId, string Flow, string Version, RunState State, DateTimeOffset CreatedAt, DateTimeOffset? FinishedAt, double DurationSeconds,
    IReadOnlyDictionary<string, int> TaskCounts);

/// <summary>The optional body of <c>POST /api/runs/{id}/cancel</c>.</summary>
public sealed record CancelRunBody(string? Reason);

/// <summary>The answer to <c>GET /api/results</c>: the matching db-dicts, newest first.</summary>
public sealed record ResultsPage(string Project, string FlowId, IReadOnlyList<JsonElement> Results);

/// <summary>One event of <c>GET /api/events</c> (SSE event <c>run</c>).</summary>
/// <param name="Event">accepted, progressed, completed, failed or cancelled.</param>
public sealed record RunEventData(Guid RunId, string Flow, string Event, DateTimeOffset At);

/// <summary>One <c>update</c> event of <c>GET /api/runs/{id}/events</c>: the run's own state, and the tasks that changed since the last event.</summary>
public sealed record RunUpdate(RunUpdateState Run, IReadOnlyList<TaskSnapshot> Tasks);

/// <summary>The run's own state in a <see cref="RunUpdate"/>.</summary>
public sealed record RunUpdateState(RunState State, DateTimeOffset? FinishedAt, string? FailedTask, string? Error, int TaskCount);

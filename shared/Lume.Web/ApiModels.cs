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
public sealed record RunSummary(Guid RunId, string Flow, string Version, RunState State, DateTimeOffset CreatedAt, DateTimeOffset? FinishedAt, double DurationSeconds);

/// <summary>The optional body of <c>POST /api/runs/{id}/cancel</c>.</summary>
public sealed record CancelRunBody(string? Reason);

/// <summary>The answer to <c>GET /api/results</c>: the matching db-dicts, newest first.</summary>
public sealed record ResultsPage(string Project, string FlowId, IReadOnlyList<JsonElement> Results);

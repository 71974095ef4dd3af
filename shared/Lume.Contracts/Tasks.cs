using System.Text.Json;

namespace Lume.Contracts;

/// <summary>A task whose upstream tasks are all done, with its inputs resolved to JSON values.</summary>
public sealed record TaskReady(
    Guid RunId,
    string Flow,
    string TaskSlug,
    string TaskType,
    int Attempt,
    IReadOnlyDictionary<string, JsonElement> Inputs,
    DateTimeOffset ReadyAt);

/// <summary>A worker picked up a task.</summary>
public sealed record TaskStarted(Guid RunId, string TaskSlug, int Attempt, string Worker, DateTimeOffset StartedAt);

/// <summary>A task returned; its result is JSON.</summary>
public sealed record TaskCompleted(
    Guid RunId,
    string TaskSlug,
    int Attempt,
    JsonElement Result,
    string Worker,
    DateTimeOffset StartedAt,
    DateTimeOffset FinishedAt);

/// <summary>A task threw, or could not be run at all.</summary>
/// <param name="Retryable">Whether running the task again could succeed (a transient fault) or not (bad input, a bug).</param>
public sealed record TaskFailed(
    Guid RunId,
    string TaskSlug,
    int Attempt,
    string ErrorType,
    string Message,
    bool Retryable,
    string Worker,
    DateTimeOffset FinishedAt);

using System.Text.Json;

namespace Lume.Scheduler.Runs;

/// <summary>
/// The Scheduler asks itself, through its own queue, whether a task's cache holds a result for its key; the run waits in
/// state checking meanwhile, and the answer comes back as <see cref="CacheChecked"/>. Going through the queue keeps the
/// state machine free of the store, and a check lost with a crashed Scheduler is sent again from the stored state.
/// </summary>
public sealed record CheckCache(Guid RunId, string TaskSlug, string Key);

/// <summary>The answer to <see cref="CheckCache"/>: the cached result, or null when there is none (or it expired).</summary>
public sealed record CacheChecked(Guid RunId, string TaskSlug, string Key, JsonElement? Result);

/// <summary>A task with a cache policy completed: its result is kept under its key until <paramref name="ExpiresAt"/>.</summary>
public sealed record StoreCache(string Key, JsonElement Result, string Flow, string TaskSlug, Guid RunId, DateTimeOffset StoredAt, DateTimeOffset ExpiresAt);

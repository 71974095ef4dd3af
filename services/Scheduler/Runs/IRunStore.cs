using Lume.Contracts;

namespace Lume.Scheduler.Runs;

/// <summary>Where the Scheduler keeps runs. Writes are guarded by optimistic concurrency on <see cref="RunRecord.RowVersion"/>.</summary>
public interface IRunStore
{
    /// <summary>Creates the schema or collections; called once at start so a bad location stops the service early.</summary>
    Task InitializeAsync(CancellationToken cancellationToken);

    /// <summary>Stores a new run; false when a run with that id already exists (a repeated request).</summary>
    Task<bool> CreateAsync(RunRecord run, CancellationToken cancellationToken);

    Task<RunRecord?> FindAsync(Guid runId, CancellationToken cancellationToken);

    /// <summary>
    /// Writes the run and its <see cref="RunRecord.ChangedTasks"/>, then marks them stored.
    /// Throws <see cref="RunConcurrencyException"/> when the stored run changed since it was read.
    /// </summary>
    Task UpdateAsync(RunRecord run, CancellationToken cancellationToken);

    /// <summary>The runs a starting Scheduler must carry on with: those still running, and ended ones whose end may not have gone out.</summary>
    Task<IReadOnlyList<Guid>> ListUnfinishedAsync(CancellationToken cancellationToken);

    /// <summary>
    /// The most recent runs, newest first, at most <paramref name="limit"/>: of flow <paramref name="flow"/> and in state
    /// <paramref name="state"/> when given (filtered by the store, so that a filter finds runs however old), each with
    /// how many of its tasks, mapped tasks' children included, are in each state.
    /// </summary>
    Task<IReadOnlyList<RunSummary>> ListAsync(int limit, string? flow, RunState? state, CancellationToken cancellationToken);
}

/// <summary>
/// Task results kept for reuse (a task's cache policy), in the Scheduler's store: they survive restarts and every worker
/// shares them.
/// </summary>
public interface ICacheStore
{
    /// <summary>The result stored under <paramref name="key"/> that has not expired at <paramref name="now"/>, or null.</summary>
    Task<System.Text.Json.JsonElement?> FindCachedAsync(string key, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Keeps a result under its key, replacing an older one.</summary>
    Task SaveCachedAsync(StoreCache entry, CancellationToken cancellationToken);
}

/// <summary>Another event of the same run was stored first; the consumer retries with fresh state.</summary>
public sealed class RunConcurrencyException(Guid runId)
    : Exception($"run {runId} was changed by another event since it was read");

/// <summary>
/// Which Scheduler is the active one, for Schedulers that share a store: the holder of a lease that it renews and
/// that lapses when it stops renewing.
/// </summary>
public interface ISchedulerLease
{
    /// <summary>Takes the lease, or renews it for its holder, until <paramref name="until"/>; false when another holds it past <paramref name="now"/>.</summary>
    Task<bool> TryHoldLeaseAsync(string holder, DateTimeOffset now, DateTimeOffset until, CancellationToken cancellationToken);

    /// <summary>Gives the lease up, if <paramref name="holder"/> holds it, so a standby need not wait for it to lapse.</summary>
    Task ReleaseLeaseAsync(string holder, CancellationToken cancellationToken);

    /// <summary>Who holds the lease and until when, or null.</summary>
    Task<(string Holder, DateTimeOffset Until)?> LeaseHolderAsync(CancellationToken cancellationToken);

    /// <summary>
    /// This store's identity: made once, when first asked, and the same for every Scheduler that opens the store. It tells
    /// two Schedulers on one broker whether they share a store.
    /// </summary>
    Task<string> StoreIdAsync(CancellationToken cancellationToken);
}

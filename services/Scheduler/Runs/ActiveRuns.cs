using System.Collections.Concurrent;

namespace Lume.Scheduler.Runs;

/// <summary>
/// The runs the Scheduler is working on, kept in memory between events, each changed by one batch of events at a time.
/// Events of a run that arrive while its previous batch is being stored queue up and are then applied together and
/// stored in one write (group commit): a quiet run pays one write per event with no waiting, and a busy one (thousands
/// of tasks finishing at once) pays one write per batch. Nothing is published or acknowledged before its change is stored.
/// A run that has ended is kept for <see cref="EndedKeptFor"/> more: its client reads it right after its end, a page of
/// tasks at a time, and each page would otherwise read the whole run from the store again.
/// </summary>
public sealed class ActiveRuns(IRunStore store, TimeProvider time)
{
    /// <summary>How long an ended run stays in memory after its end has gone out.</summary>
    public static readonly TimeSpan EndedKeptFor = TimeSpan.FromSeconds(30);

    readonly ConcurrentDictionary<Guid, Slot> _slots = new();

    /// <summary>Stores a new run and keeps it; false when a run with its id already exists (a repeated request).</summary>
    public async Task<bool> CreateAsync(RunRecord run, CancellationToken cancellationToken)
    {
        if (!await store.CreateAsync(run, cancellationToken))
            return false;
        // No event of the run can have come before it was created, so no slot competes with this one.
        _slots.TryAdd(run.RunId, new Slot { Run = run });
        return true;
    }

    /// <summary>
    /// Applies <paramref name="apply"/> to the run, after the events of the run before it, and stores what changed.
    /// Completes once the change is stored, with the run and the step (read only the run's immutable parts after
    /// that, such as its pool); null when no such run exists. The caller sends the step's messages, which may include
    /// those of other events applied in the same batch (theirs then come back empty).
    /// </summary>
    public async Task<(RunRecord Run, Step Step)?> ApplyAsync(Guid runId, Func<RunRecord, Step> apply)
    {
        var work = new Work(apply);
        while (true)
        {
            var slot = _slots.GetOrAdd(runId, _ => new Slot());
            bool drain;
            lock (slot)
            {
                if (slot.Retired)
                    continue; // removed just now, after its last batch: take a fresh one
                slot.Pending.Add(work);
                drain = !slot.Draining;
                slot.Draining = true;
            }

            // The event that finds the run idle applies it, and whatever arrives meanwhile, on its own thread: a chain's
            // lone event then goes from the broker to the store without a hop through the thread pool.
            if (drain)
                await DrainAsync(runId, slot);
            return await work.Done.Task;
        }
    }

    async Task DrainAsync(Guid runId, Slot slot)
    {
        while (true)
        {
            List<Work> batch;
            lock (slot)
            {
                if (slot.Pending.Count == 0)
                {
                    slot.Draining = false;
                    // An unknown run, or an ended one past its time, is not kept; its later events (duplicates) read it from the store.
                    if (slot.Run is null || slot.Expired)
                    {
                        slot.Retired = true;
                        _slots.TryRemove(new KeyValuePair<Guid, Slot>(runId, slot));
                    }

                    return;
                }

                batch = [.. slot.Pending];
                slot.Pending.Clear();
            }

            await ApplyBatchAsync(runId, slot, batch);
        }
    }

    async Task ApplyBatchAsync(Guid runId, Slot slot, List<Work> batch)
    {
        try
        {
            while (batch.Count > 0)
            {
                var run = slot.Run ?? await store.FindAsync(runId, CancellationToken.None);
                if (run is null)
                {
                    foreach (var work in batch)
                        work.Done.TrySetResult(null);
                    return;
                }

                var steps = new Step[batch.Count];
                var failed = -1;
                for (var i = 0; i < batch.Count && failed < 0; i++)
                {
                    try
                    {
                        steps[i] = batch[i].Apply(run);
                    }
                    catch (Exception e)
                    {
                        // It may have left the run half changed: fail that event alone, then apply the others again to the stored run.
                        batch[i].Done.TrySetException(e);
                        failed = i;
                    }
                }

                if (failed >= 0)
                {
                    slot.Run = null;
                    batch.RemoveAt(failed);
                    continue;
                }

                if (steps.Any(s => s.Changed))
                    await store.UpdateAsync(run, CancellationToken.None);
                slot.Run = run;
                // An ended run is kept until its end has gone out, which is recorded in it, and then for a while.
                if (run.IsFinished && run.Ending == Outbox.Sent && slot.Expiry is null)
                    slot.Expiry = time.CreateTimer(_ => Expire(runId, slot), null, EndedKeptFor, Timeout.InfiniteTimeSpan);
                SendTogether(steps);
                for (var i = 0; i < batch.Count; i++)
                    batch[i].Done.TrySetResult((run, steps[i]));
                return;
            }
        }
        catch (Exception e)
        {
            // Not stored (a store error, or another Scheduler wrote first) and the copy in memory may now be ahead of
            // the store: forget it, and let each event be retried against the stored run.
            slot.Run = null;
            foreach (var work in batch)
                work.Done.TrySetException(e);
        }
    }

    // What the events of one batch caused goes out together, from the first of them that sends anything: the tasks that
    // several reports each unblock a few of are packed as one step's (a layered flow's steps otherwise went out in pieces
    // of one or two tasks), and the store already holds all of it. Whoever asks for a change that has messages sends them
    // (RunPipeline); a reader's step has none, so it is never the one chosen.
    static void SendTogether(Step[] steps)
    {
        var first = Array.FindIndex(steps, s => s.Messages.Count > 0);
        if (first < 0 || Array.FindIndex(steps, first + 1, s => s.Messages.Count > 0) < 0)
            return;
        steps[first] = steps[first] with { Messages = [.. steps.SelectMany(s => s.Messages)] };
        for (var i = first + 1; i < steps.Length; i++)
            steps[i] = steps[i] with { Messages = [] };
    }

    // The ended run's time is up: dropped now if idle, else by the drain under way when it ends.
    void Expire(Guid runId, Slot slot)
    {
        lock (slot)
        {
            slot.Expired = true;
            slot.Expiry?.Dispose();
            if (slot.Draining || slot.Retired)
                return;
            slot.Retired = true;
            _slots.TryRemove(new KeyValuePair<Guid, Slot>(runId, slot));
        }
    }

    sealed class Slot
    {
        public readonly List<Work> Pending = [];
        public RunRecord? Run;
        public bool Draining;
        public bool Retired;
        public bool Expired;
        public ITimer? Expiry;
    }

    sealed class Work(Func<RunRecord, Step> apply)
    {
        public Func<RunRecord, Step> Apply { get; } = apply;

        public TaskCompletionSource<(RunRecord Run, Step Step)?> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

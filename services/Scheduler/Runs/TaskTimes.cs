using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text.Json;
using Lume.Contracts;
using Lume.Scheduler.Flows;

namespace Lume.Scheduler.Runs;

/// <summary>
/// How long each task type has lately taken on its pool's workers, from the reports, and so which ready tasks may travel
/// together in a <see cref="TasksReady"/>: only tasks known to be quick, a few milliseconds of expected work per batch,
/// and never so many that one worker takes what several idle ones could share. A type not seen yet travels alone.
/// Kept in memory: after a restart, the first reports teach it again.
/// </summary>
public sealed class TaskTimes(WorkerDirectory workers, TimeProvider time)
{
    readonly ConcurrentDictionary<(string Pool, string Type), Samples> _times = new();

    /// <summary>Notes how long an attempt of a task type took on its worker.</summary>
    public void Record(string pool, string type, TimeSpan took) =>
        _times.GetOrAdd((pool, type), _ => new Samples()).Add(Math.Max(0, took.TotalMilliseconds));

    /// <summary>The expected time of a task of the type (the median of its recent attempts), or null when none has been seen.</summary>
    public TimeSpan? Expected(string pool, string type) =>
        _times.TryGetValue((pool, type), out var samples) ? TimeSpan.FromMilliseconds(samples.Median()) : null;

    // The last few times of a type: their median ignores one report a busy machine delayed, and follows a type that
    // turns slow once half of them are slow.
    sealed class Samples
    {
        readonly double[] _last = new double[9];
        readonly Lock _gate = new();
        int _count;

        public void Add(double ms)
        {
            lock (_gate)
                _last[_count++ % _last.Length] = ms;
        }

        public double Median()
        {
            double[] sorted;
            lock (_gate)
                sorted = _last[..Math.Min(_count, _last.Length)];
            Array.Sort(sorted);
            return sorted[sorted.Length / 2];
        }
    }

    /// <summary>Groups a step's ready tasks into the messages that carry them: one task, or a batch of quick ones.</summary>
    public IEnumerable<IReadOnlyList<TaskReady>> Pack(string pool, IReadOnlyList<TaskReady> ready)
    {
        var expectedOf = new Dictionary<string, TimeSpan?>(StringComparer.Ordinal);
        TimeSpan? ExpectedOf(string type) => expectedOf.TryGetValue(type, out var known) ? known : expectedOf[type] = Expected(pool, type);
        var quick = 0;
        var quickWork = TimeSpan.Zero;
        foreach (var task in ready)
        {
            if (ExpectedOf(task.TaskType) is { } took && took <= TaskBatches.ExpectedWork)
            {
                quick++;
                quickWork += took;
            }
        }

        // Enough batches for every live worker to take a few at once, but none with less work than a message costs: a
        // layered flow releases its quick tasks a few at a time, and sent one by one they cost the broker, the Scheduler
        // and the workers ten times their work.
        var batches = Math.Clamp(Math.Ceiling(quickWork / TaskBatches.LeastWork), 1, 4 * Math.Max(1, workers.LiveWorkers(pool, time.GetUtcNow())));
        var most = Math.Min(TaskBatches.MaxTasks, (int)(quick / batches));
        var batch = new List<TaskReady>();
        var work = TimeSpan.Zero;
        var bytes = 0;
        foreach (var task in ready)
        {
            var size = Size(task);
            if (most <= 1 || ExpectedOf(task.TaskType) is not { } took || took > TaskBatches.ExpectedWork || size > TaskBatches.MaxBytes)
            {
                yield return [task];
                continue;
            }

            if (batch.Count == most || work + took > TaskBatches.ExpectedWork || bytes + size > TaskBatches.MaxBytes)
            {
                yield return batch;
                batch = [];
                work = TimeSpan.Zero;
                bytes = 0;
            }

            batch.Add(task);
            work += took;
            bytes += size;
        }

        if (batch.Count > 0)
            yield return batch;
    }

    // The JSON of a task's inputs, read without copying it.
    static int Size(TaskReady task)
    {
        var size = 0;
        foreach (var input in task.Inputs.Values)
            size += input.ValueKind == JsonValueKind.Undefined ? 0 : JsonMarshal.GetRawUtf8Value(input).Length;
        return size;
    }
}

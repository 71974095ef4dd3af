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
    readonly ConcurrentDictionary<(string Pool, string Type), double> _milliseconds = new();

    /// <summary>Notes how long an attempt of a task type took on its worker.</summary>
    public void Record(string pool, string type, TimeSpan took)
    {
        // A moving average that follows a type that turns slow within a few reports.
        var ms = Math.Max(0, took.TotalMilliseconds);
        _milliseconds.AddOrUpdate((pool, type), ms, (_, average) => Math.Max(ms, (0.8 * average) + (0.2 * ms)));
    }

    /// <summary>The expected time of a task of the type, or null when none has been seen lately.</summary>
    public TimeSpan? Expected(string pool, string type) =>
        _milliseconds.TryGetValue((pool, type), out var ms) ? TimeSpan.FromMilliseconds(ms) : null;

    /// <summary>Groups a step's ready tasks into the messages that carry them: one task, or a batch of quick ones.</summary>
    public IEnumerable<IReadOnlyList<TaskReady>> Pack(string pool, IReadOnlyList<TaskReady> ready)
    {
        // Enough batches for every live worker to take a few at once.
        var spread = Math.Max(1, ready.Count / (4 * Math.Max(1, workers.LiveWorkers(pool, time.GetUtcNow()))));
        var most = Math.Min(TaskBatches.MaxTasks, spread);
        var batch = new List<TaskReady>();
        var work = TimeSpan.Zero;
        var bytes = 0;
        foreach (var task in ready)
        {
            var expected = Expected(pool, task.TaskType);
            var size = Size(task);
            if (most == 1 || expected is not { } took || took > TaskBatches.ExpectedWork || size > TaskBatches.MaxBytes)
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

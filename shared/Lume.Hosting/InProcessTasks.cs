using System.Collections.Concurrent;
using System.Diagnostics;
using Lume.Contracts;

namespace Lume.Hosting;

/// <summary>
/// Where the Scheduler and the workers share one process (embedded, <c>lume run</c> without a broker), ready tasks and
/// their reports pass between them directly: a queue per pool in memory one way, a call the other. A message on the
/// in-memory transport would be serialised, read back, scoped and filtered for nothing: no other process could take
/// it, and a crash loses it along with everything else in the process (the Scheduler then fails the run as
/// interrupted). Registered only by the embedded host; services on a broker never see it.
/// </summary>
public sealed class InProcessTasks
{
    readonly ConcurrentDictionary<string, Pool> _pools = new(StringComparer.Ordinal);
    Func<IReadOnlyList<object>, Task>? _reports;

    /// <summary>
    /// Runs the pool's tasks in this process with <paramref name="run"/>, <paramref name="concurrency"/> at a time, until
    /// <paramref name="stopping"/> fires; <paramref name="run"/> completes once its task has run.
    /// </summary>
    public Task ServeAsync(string pool, int concurrency, Func<TaskReady, ActivityContext, Task> run, CancellationToken stopping)
    {
        var queue = _pools.GetOrAdd(pool, _ => new Pool());
        return Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(() => queue.LoopAsync(run, stopping), stopping)));
    }

    /// <summary>The Scheduler in this process takes the workers' reports through <paramref name="apply"/>.</summary>
    public void AcceptReports(Func<IReadOnlyList<object>, Task> apply) => _reports = apply;

    /// <summary>Whether the Scheduler in this process takes reports directly.</summary>
    public bool TakesReports => _reports is not null;

    /// <summary>Hands ready tasks to the pool's workers in this process; false when none serves the pool here.</summary>
    public bool TryDispatch(string pool, IReadOnlyList<TaskReady> tasks, ActivityContext trace)
    {
        if (!_pools.TryGetValue(pool, out var queue))
            return false;
        queue.Add(tasks, trace);
        return true;
    }

    /// <summary>
    /// Hands reports (TaskCompleted, TaskFailed) to the Scheduler; completes once they are applied and stored. Whoever
    /// watches a run (<see cref="Watch"/>) sees its reports first, as a client on the bus would.
    /// </summary>
    public Task ReportAsync(IReadOnlyList<object> reports)
    {
        if (!_watchers.IsEmpty)
            foreach (var report in reports)
                if (_watchers.TryGetValue(TaskReports.RunOf(report), out var watch))
                    watch(report);
        return (_reports ?? throw new InvalidOperationException("no Scheduler in this process takes reports"))(reports);
    }

    /// <summary>Shows the run's reports to <paramref name="report"/> (a client showing a run's progress) until disposed.</summary>
    public IDisposable Watch(Guid runId, Action<object> report)
    {
        _watchers[runId] = report;
        return new Unwatch(this, runId);
    }

    readonly ConcurrentDictionary<Guid, Action<object>> _watchers = new();

    sealed class Unwatch(InProcessTasks owner, Guid runId) : IDisposable
    {
        public void Dispose() => owner._watchers.TryRemove(runId, out _);
    }

    /// <summary>
    /// A pool's ready tasks and the loops that run them. A task that a running task releases (its report, applied on the
    /// loop's own thread, makes the next task of a chain ready) is kept by that loop and run next on the same thread, as a
    /// work-stealing scheduler keeps a task's continuation local: handed to an idle loop instead, every hop of a chain
    /// would wait for a sleeping thread to wake. A loop keeps one; the rest wake idle loops, so a fan-out runs wide.
    /// </summary>
    sealed class Pool
    {
        readonly ConcurrentQueue<(TaskReady Task, ActivityContext Trace)> _tasks = new();

        // One count per queued task that no loop keeps for itself.
        readonly SemaphoreSlim _ready = new(0);

        // The pool whose loop is running a task on this thread right now (its synchronous part), and how many tasks
        // released meanwhile that loop keeps.
        [ThreadStatic] static Pool? t_running;
        [ThreadStatic] static int t_kept;

        public void Add(IReadOnlyList<TaskReady> tasks, ActivityContext trace)
        {
            foreach (var task in tasks)
                _tasks.Enqueue((task, trace));
            var others = tasks.Count;
            if (others > 0 && t_running == this && t_kept == 0)
            {
                t_kept = 1;
                others--;
            }

            if (others > 0)
                _ready.Release(others);
        }

        public async Task LoopAsync(Func<TaskReady, ActivityContext, Task> run, CancellationToken stopping)
        {
            while (true)
            {
                await _ready.WaitAsync(stopping);
                for (var owed = 1; owed > 0; owed--)
                {
                    // Never empty here: every count and every kept task stands for one queued task.
                    if (!_tasks.TryDequeue(out var next))
                        continue;
                    // Saved and put back: a loop's continuation can run inline inside another's task.
                    var (outer, outerKept) = (t_running, t_kept);
                    (t_running, t_kept) = (this, 0);
                    Task running;
                    try
                    {
                        running = run(next.Task, next.Trace);
                    }
                    finally
                    {
                        owed += t_kept;
                        (t_running, t_kept) = (outer, outerKept);
                    }

                    await running;
                }
            }
        }
    }
}

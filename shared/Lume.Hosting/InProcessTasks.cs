using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
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
    readonly ConcurrentDictionary<string, Channel<(TaskReady Task, ActivityContext Trace)>> _pools = new(StringComparer.Ordinal);
    Func<IReadOnlyList<object>, Task>? _reports;

    /// <summary>A worker of the pool in this process takes its tasks from here.</summary>
    public ChannelReader<(TaskReady Task, ActivityContext Trace)> Serve(string pool) => Pool(pool).Reader;

    /// <summary>The Scheduler in this process takes the workers' reports through <paramref name="apply"/>.</summary>
    public void AcceptReports(Func<IReadOnlyList<object>, Task> apply) => _reports = apply;

    /// <summary>Whether the Scheduler in this process takes reports directly.</summary>
    public bool TakesReports => _reports is not null;

    /// <summary>Hands ready tasks to the pool's workers in this process; false when none serves the pool here.</summary>
    public bool TryDispatch(string pool, IReadOnlyList<TaskReady> tasks, ActivityContext trace)
    {
        if (!_pools.TryGetValue(pool, out var queue))
            return false;
        foreach (var task in tasks)
            queue.Writer.TryWrite((task, trace));
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


    Channel<(TaskReady, ActivityContext)> Pool(string pool) =>
        _pools.GetOrAdd(pool, _ => Channel.CreateUnbounded<(TaskReady, ActivityContext)>(new UnboundedChannelOptions { SingleWriter = false }));
}

using System.Text.Json;
using Lume.Flows;

namespace Lume.Scheduler.Runs;

/// <summary>Where a run is.</summary>
public enum RunState
{
    Running,
    Completed,
    Failed,
}

/// <summary>Where a task of a run is. Completed, Failed and Skipped are final.</summary>
public enum TaskState
{
    /// <summary>Waiting for upstream tasks.</summary>
    Pending,

    /// <summary>TaskReady was published; no worker has reported yet.</summary>
    Ready,

    /// <summary>A worker reported TaskStarted.</summary>
    Running,
    Completed,
    Failed,

    /// <summary>Never run, because a task upstream of it failed.</summary>
    Skipped,
}

/// <summary>A run as the Scheduler stores it, with the flow definition it was started with, so later flow changes don't touch it.</summary>
public sealed class RunRecord
{
    Dictionary<string, List<string>>? _downstream;
    Dictionary<string, TaskNode>? _nodes;
    Dictionary<string, int>? _waiting;
    Dictionary<string, int>? _positions;
    readonly List<TaskRecord> _changed = [];
    int _unfinished = -1;

    public required Guid RunId { get; init; }
    public required FlowDefinition Flow { get; init; }

    /// <summary>The worker pool whose queue this run's tasks are sent to.</summary>
    public required string Pool { get; init; }

    /// <summary>The W3C trace parent of the run's request, so the run's own span joins the run's trace when it ends.</summary>
    public string? TraceParent { get; init; }
    public required IReadOnlyDictionary<string, JsonElement> Parameters { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public required Dictionary<string, TaskRecord> Tasks { get; init; }
    public RunState State { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }
    public string? FailedTask { get; set; }
    public string? Error { get; set; }

    /// <summary>The stored version this record was read at; the store refuses to write over a newer one.</summary>
    public long RowVersion { get; set; }

    public bool IsFinished => State != RunState.Running;

    /// <summary>Tasks in the flow's order.</summary>
    public IEnumerable<TaskRecord> OrderedTasks => Flow.Tasks.Select(t => Tasks[t.Slug]);

    /// <summary>How many tasks are not final yet; counted once, then kept up to date by <see cref="Transition"/>.</summary>
    public int Unfinished => _unfinished >= 0 ? _unfinished : _unfinished = Tasks.Values.Count(t => !t.IsFinal);

    /// <summary>
    /// How many of the task's upstreams have not completed. Counted once per loaded run, then kept up to date by
    /// <see cref="Transition"/>, so releasing the fan-in of n tasks costs n steps, not n².
    /// </summary>
    public int WaitingOn(string slug)
    {
        _waiting ??= Flow.Tasks.ToDictionary(
            t => t.Slug, t => FlowDefinition.UpstreamOf(t).Count(u => Tasks[u].State != TaskState.Completed), StringComparer.Ordinal);
        return _waiting[slug];
    }

    /// <summary>Moves a task to a state; every state change goes through here so the counts above stay right.</summary>
    public void Transition(TaskRecord task, TaskState state)
    {
        if (_waiting is not null && state == TaskState.Completed && task.State != TaskState.Completed)
            foreach (var downstream in DownstreamOf(task.Slug))
                _waiting[downstream]--;
        if (_unfinished >= 0 && !task.IsFinal && state is TaskState.Completed or TaskState.Failed or TaskState.Skipped)
            _unfinished--;
        task.State = state;
        if (!task.Dirty)
        {
            task.Dirty = true;
            _changed.Add(task);
        }
    }

    /// <summary>The tasks changed since the run was last stored; a store writes these, so an event costs its own rows, not the whole run.</summary>
    public IReadOnlyList<TaskRecord> ChangedTasks => _changed;

    /// <summary>Called by a store once the run and its <see cref="ChangedTasks"/> are written.</summary>
    public void MarkStored()
    {
        foreach (var task in _changed)
            task.Dirty = false;
        _changed.Clear();
    }

    /// <summary>Where the task <paramref name="slug"/> stands in the flow's order.</summary>
    public int PositionOf(string slug)
    {
        _positions ??= Flow.Tasks.Select((t, i) => (t.Slug, i)).ToDictionary(p => p.Slug, p => p.i, StringComparer.Ordinal);
        return _positions[slug];
    }

    /// <summary>The flow's definition of the task <paramref name="slug"/>.</summary>
    public TaskNode Node(string slug)
    {
        _nodes ??= Flow.Tasks.ToDictionary(t => t.Slug, StringComparer.Ordinal);
        return _nodes[slug];
    }

    /// <summary>The slugs of the tasks that directly depend on <paramref name="slug"/>.</summary>
    public IReadOnlyList<string> DownstreamOf(string slug)
    {
        _downstream ??= BuildDownstream(Flow);
        return _downstream.TryGetValue(slug, out var list) ? list : [];
    }

    static Dictionary<string, List<string>> BuildDownstream(FlowDefinition flow)
    {
        var map = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var task in flow.Tasks)
            foreach (var up in FlowDefinition.UpstreamOf(task))
                (map.TryGetValue(up, out var list) ? list : map[up] = []).Add(task.Slug);
        return map;
    }
}

/// <summary>One task of a stored run.</summary>
public sealed class TaskRecord
{
    public required string Slug { get; init; }
    public required string Type { get; init; }
    public TaskState State { get; set; }
    public int Attempt { get; set; }
    public JsonElement? Result { get; set; }
    public string? ErrorType { get; set; }
    public string? Error { get; set; }
    public string? Worker { get; set; }
    public DateTimeOffset? ReadyAt { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }

    /// <summary>Changed since the run was last stored (then it is in <see cref="RunRecord.ChangedTasks"/>).</summary>
    public bool Dirty { get; internal set; }

    public bool IsFinal => State is TaskState.Completed or TaskState.Failed or TaskState.Skipped;
}

/// <summary>A line of <c>lume runs</c>.</summary>
public sealed record RunSummary(Guid RunId, string Flow, string Version, RunState State, DateTimeOffset CreatedAt, DateTimeOffset? FinishedAt);

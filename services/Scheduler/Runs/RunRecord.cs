using System.Text.Json;
using Lume.Contracts;
using Lume.Flows;

namespace Lume.Scheduler.Runs;

/// <summary>Whether the message a state calls for (a task's TaskReady, a run's end) has gone out.</summary>
public enum Outbox
{
    /// <summary>Nothing to send, or it is sent: the broker confirmed it and the store says so.</summary>
    Sent,

    /// <summary>To be sent: the state that calls for it is stored, the message is not known to have left.</summary>
    Unsent,

    /// <summary>Being sent by this process right now (kept in memory only, so nobody else sends it meanwhile).</summary>
    Sending,

    /// <summary>
    /// Released but waiting for its turn to be sent, in this process's memory (stored as <see cref="Unsent"/>): a step
    /// that releases more than <see cref="RunProgression.ReleaseSlice"/> tasks sends them a slice at a time.
    /// </summary>
    Queued,
}

static class OutboxStorage
{
    /// <summary>
    /// The state a store keeps: what this process is sending or has queued is, on disk, still to be sent, so a crash
    /// leaves it to the next start.
    /// </summary>
    public static string Stored(this Outbox outbox) => (outbox is Outbox.Sending or Outbox.Queued ? Outbox.Unsent : outbox).ToString();
}

/// <summary>
/// A run as the Scheduler stores it, with the flow definition it was started with, so later flow changes don't touch it.
/// Only <see cref="RunProgression"/> changes it, and a store reads and writes it.
/// </summary>
public sealed class RunRecord
{
    int[]? _waiting; // by position in the flow's order
    Dictionary<string, List<TaskRecord>>? _children;
    Dictionary<string, int>? _childrenLeft;
    Dictionary<string, Dictionary<string, JsonElement[]>>? _elements;
    readonly List<TaskRecord> _changed = [];
    Queue<TaskRecord>? _queued;
    int _unfinished = -1;

    public required Guid RunId { get; init; }
    public required FlowDefinition Flow { get; init; }

    /// <summary>The flow's graph, shared by every run of the same definition.</summary>
    public FlowGraph Graph => FlowGraph.Of(Flow);

    /// <summary>The worker pool whose queue this run's tasks are sent to.</summary>
    public required string Pool { get; init; }

    /// <summary>The W3C trace parent of the run's request, so the run's own span joins the run's trace when it ends.</summary>
    public string? TraceParent { get; init; }
    public required IReadOnlyDictionary<string, JsonElement> Parameters { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the run is cancelled if it has not ended by then (its timeout); null: never.</summary>
    public DateTimeOffset? DeadlineAt { get; init; }

    /// <summary>For a subflow run, the task of another run it is an attempt of, told when this run ends; null for a client's run.</summary>
    public Contracts.RunParent? Parent { get; init; }

    /// <summary>The run reads no cached result (<c>lume run --no-cache</c>); it still stores the results it makes.</summary>
    public bool NoCache { get; init; }
    public required Dictionary<string, TaskRecord> Tasks { get; init; }
    public RunState State { get; internal set; }
    public DateTimeOffset? FinishedAt { get; internal set; }

    /// <summary>The first task that failed for good, when the run failed because of it.</summary>
    public string? FailedTask { get; internal set; }

    /// <summary>Why the run failed or was cancelled.</summary>
    public string? Error { get; internal set; }

    /// <summary>Whether the run's end (RunCompleted, RunFailed or RunCancelled) has gone out; <see cref="Outbox.Sent"/> while it runs.</summary>
    public Outbox Ending { get; internal set; }

    /// <summary>The stored version this record was read at; the store refuses to write over a newer one.</summary>
    public long RowVersion { get; internal set; }

    public bool IsFinished => State != RunState.Running;

    /// <summary>Tasks in the flow's order, a mapped task's children (in index order) right after it.</summary>
    public IEnumerable<TaskRecord> OrderedTasks => OrderedTasksFrom(0);

    /// <summary>
    /// <see cref="OrderedTasks"/> from the <paramref name="offset"/>-th on: the tasks before it are counted, not looked
    /// up, so that reading a big run a page at a time costs each page its own tasks.
    /// </summary>
    public IEnumerable<TaskRecord> OrderedTasksFrom(int offset)
    {
        foreach (var node in Flow.Tasks)
        {
            var children = node.IsMapped ? ChildrenOf(node.Slug) : [];
            if (offset > children.Count)
            {
                offset -= 1 + children.Count;
                continue;
            }

            if (offset == 0)
                yield return Tasks[node.Slug];
            for (var i = Math.Max(0, offset - 1); i < children.Count; i++)
                yield return children[i];
            offset = 0;
        }
    }

    /// <summary>The children of a mapped task, in index order; empty until it is mapped.</summary>
    public IReadOnlyList<TaskRecord> ChildrenOf(string slug)
    {
        IndexChildren();
        return _children!.TryGetValue(slug, out var list) ? list : [];
    }

    /// <summary>How many children of a mapped task are not final yet.</summary>
    public int ChildrenLeft(string slug)
    {
        IndexChildren();
        return _childrenLeft!.GetValueOrDefault(slug);
    }

    // A stored run's children come back as rows of their own, in no order; they are linked to their parents once per loaded run.
    void IndexChildren()
    {
        if (_children is not null)
            return;
        _children = new(StringComparer.Ordinal);
        _childrenLeft = new(StringComparer.Ordinal);
        foreach (var task in Tasks.Values.Where(t => t.Parent is not null))
            Link(task);
        foreach (var list in _children.Values)
            list.Sort((a, b) => a.Index.CompareTo(b.Index));
    }

    void Link(TaskRecord child)
    {
        var parent = child.Parent!;
        (_children!.TryGetValue(parent, out var list) ? list : _children[parent] = []).Add(child);
        if (!child.IsFinal)
            _childrenLeft![parent] = _childrenLeft.GetValueOrDefault(parent) + 1;
    }

    /// <summary>Queues a released task (<see cref="Outbox.Queued"/>) to be sent with a later slice.</summary>
    internal void Queue(TaskRecord task) => (_queued ??= new()).Enqueue(task);

    /// <summary>The task queued first and not taken yet, or null.</summary>
    internal TaskRecord? Dequeue() => _queued is { } queue && queue.TryDequeue(out var task) ? task : null;

    /// <summary>Whether released tasks wait in this process's queue.</summary>
    internal bool HasQueued => _queued is { Count: > 0 };

    /// <summary>Adds the next child of a mapped task (its index is the number of children it has so far).</summary>
    internal TaskRecord AddChild(TaskRecord parent, int index)
    {
        IndexChildren();
        var child = new TaskRecord { Slug = MappedSlug.Of(parent.Slug, index), Type = parent.Type, State = TaskState.Pending };
        Tasks.Add(child.Slug, child);
        Link(child);
        if (_unfinished >= 0)
            _unfinished++;
        Touch(child);
        return child;
    }

    /// <summary>
    /// The elements of a mapped task's mapped arguments, worked out once per loaded run and kept, so that releasing
    /// n children costs n lookups and not n walks of the list.
    /// </summary>
    internal Dictionary<string, JsonElement[]> Elements(string slug, Func<Dictionary<string, JsonElement[]>> build)
    {
        _elements ??= new(StringComparer.Ordinal);
        return _elements.TryGetValue(slug, out var found) ? found : _elements[slug] = build();
    }

    /// <summary>How many tasks are not final yet; counted once, then kept up to date by <see cref="Transition"/>.</summary>
    public int Unfinished => _unfinished >= 0 ? _unfinished : _unfinished = Tasks.Values.Count(t => !t.IsFinal);

    /// <summary>
    /// How many of the task's upstreams have not ended. Counted once per loaded run, then kept up to date by
    /// <see cref="Transition"/>, so releasing the fan-in of n tasks costs n steps, not n².
    /// </summary>
    public int WaitingOn(string slug)
    {
        var graph = Graph;
        _waiting ??= Flow.Tasks.Select(t => graph.UpstreamOf(t.Slug).Count(u => !Tasks[u].IsFinal)).ToArray();
        return _waiting[graph.PositionOf(slug)];
    }

    /// <summary>Moves a task to a state; every state change goes through here so the counts above stay right.</summary>
    internal void Transition(TaskRecord task, TaskState state)
    {
        if (TaskRecord.Final(state) && !task.IsFinal)
        {
            if (task.Parent is { } parent)
            {
                if (_childrenLeft is not null)
                    _childrenLeft[parent]--;
            }
            else if (_waiting is not null)
            {
                var graph = Graph;
                foreach (var downstream in graph.DownstreamOf(task.Slug))
                    _waiting[graph.PositionOf(downstream)]--;
            }
        }

        if (_unfinished >= 0 && !task.IsFinal && TaskRecord.Final(state))
            _unfinished--;
        task.State = state;
        if (task.IsFinal)
            task.ClaimedAt = task.ClaimCheckAt = null; // an ended attempt has nothing left to claim
        Touch(task);
    }

    /// <summary>Marks a task as changed, so the next write stores it.</summary>
    internal void Touch(TaskRecord task)
    {
        if (task.Dirty)
            return;
        task.Dirty = true;
        _changed.Add(task);
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

    /// <summary>The earliest time a timer of the run is due: a retry, an attempt's timeout, the run's own; null: none.</summary>
    public DateTimeOffset? NextDueAt()
    {
        if (IsFinished)
            return null;
        var next = DeadlineAt;
        foreach (var task in Tasks.Values)
        {
            if (task.DueAt is { } due && (next is null || due < next))
                next = due;
            if ((task.ClaimCheckAt ?? task.ClaimedAt) is { } claim && (next is null || claim < next))
                next = claim;
        }
        return next;
    }
}

/// <summary>One task of a stored run.</summary>
public sealed class TaskRecord
{
    readonly string _slug = "";

    // The times as UTC ticks, 0 for none. A run holds a record per task, and six nullable DateTimeOffsets were 144 of a
    // record's 288 bytes: 14 MB of a 100,000-task run.
    long _readyAt, _startedAt, _finishedAt;

    // What few tasks ever have (a timer, a claim, an error, a cache key, past attempts), apart: made the first time one
    // of them is set. Most tasks of a big run have none of it, and it was 56 bytes of each (5.6 MB in 100,000).
    sealed class Rare
    {
        public long DueAt, ClaimedAt, ClaimCheckAt;
        public string? ErrorType, Error, CacheKey;
        public List<AttemptRecord>? PastAttempts;
    }

    Rare? _rare;

    Rare Rarely() => _rare ??= new Rare();

    static DateTimeOffset? Time(long ticks) => ticks == 0 ? null : new DateTimeOffset(ticks, TimeSpan.Zero);

    static long Ticks(DateTimeOffset? time) => time?.UtcTicks ?? 0;

    /// <summary>The task's slug in the flow, or for a mapped task's child the parent's slug and its index: <c>square[3]</c>.</summary>
    public required string Slug
    {
        get => _slug;
        init
        {
            _slug = value;
            (Parent, Index) = MappedSlug.Parse(value);
        }
    }

    /// <summary>For a mapped task's child, the mapped task's slug; null for any other task.</summary>
    public string? Parent { get; private init; }

    /// <summary>For a mapped task's child, its index in the mapped list; -1 for any other task.</summary>
    public int Index { get; private init; } = -1;
    public required string Type { get; init; }
    public TaskState State { get; internal set; }

    /// <summary>The number of the task's latest attempt (1 for the first); 0 until it is first released.</summary>
    public int Attempt { get; internal set; }

    /// <summary>The secret of the latest attempt, sent in its TaskReady; a report without it is not from the attempt's holder.</summary>
    public Guid Token { get; internal set; }

    /// <summary>Whether the latest attempt's TaskReady has gone out.</summary>
    public Outbox Dispatch { get; internal set; }

    /// <summary>When the task's timer is due: the next attempt of a retrying task, or the end of a running attempt's time.</summary>
    public DateTimeOffset? DueAt { get => Time(_rare?.DueAt ?? 0); internal set { if (value is not null || _rare is not null) Rarely().DueAt = Ticks(value); } }

    /// <summary>
    /// When a worker claimed a copy of the current attempt. Once every live worker has been heard since, the attempt
    /// counts as lost and a new one is released, unless one of them lists it as held (see <see cref="RunProgression"/>'s claims).
    /// </summary>
    public DateTimeOffset? ClaimedAt { get => Time(_rare?.ClaimedAt ?? 0); internal set { if (value is not null || _rare is not null) Rarely().ClaimedAt = Ticks(value); } }

    /// <summary>When the claim is looked at next; kept in memory only: a loaded run looks at once.</summary>
    public DateTimeOffset? ClaimCheckAt { get => Time(_rare?.ClaimCheckAt ?? 0); internal set { if (value is not null || _rare is not null) Rarely().ClaimCheckAt = Ticks(value); } }

    /// <summary>The task's result. Kept as its JSON (a document each cost 140 bytes more, 14 MB in 100,000 tasks) and read
    /// as a fresh element when asked: by the tasks that take it, a cache, a run's pages.</summary>
    public JsonElement? Result
    {
        get
        {
            if (_result is null)
                return null;
            var reader = new Utf8JsonReader(_result);
            return JsonElement.ParseValue(ref reader);
        }
        internal set => _result = value is { } result ? Compact(result) : null;
    }

    /// <summary>The result's JSON, compact whatever the sender's formatting, for a store to write as it is (not to change).</summary>
    internal byte[]? ResultJson => _result;

    byte[]? _result;

    [ThreadStatic]
    static (System.Buffers.ArrayBufferWriter<byte> Buffer, Utf8JsonWriter Writer)? _compact;

    static byte[] Compact(JsonElement value)
    {
        var (buffer, writer) = _compact ??= NewWriter();
        buffer.ResetWrittenCount();
        writer.Reset(buffer);
        value.WriteTo(writer);
        writer.Flush();
        var json = buffer.WrittenSpan.ToArray();
        if (buffer.Capacity > 1 << 16)
            _compact = null; // not kept for good: a result can be up to a megabyte
        return json;

        static (System.Buffers.ArrayBufferWriter<byte>, Utf8JsonWriter) NewWriter()
        {
            var buffer = new System.Buffers.ArrayBufferWriter<byte>();
            return (buffer, new Utf8JsonWriter(buffer));
        }
    }
    public string? ErrorType { get => _rare?.ErrorType; internal set { if (value is not null || _rare is not null) Rarely().ErrorType = value; } }
    public string? Error { get => _rare?.Error; internal set { if (value is not null || _rare is not null) Rarely().Error = value; } }
    // A few workers run all of a run's tasks: one string per name, not one per task (4 MB in 100,000).
    public string? Worker { get => _worker; internal set => _worker = value is null ? null : SharedNames.Share(value); }

    string? _worker;
    public DateTimeOffset? ReadyAt { get => Time(_readyAt); internal set => _readyAt = Ticks(value); }
    public DateTimeOffset? StartedAt { get => Time(_startedAt); internal set => _startedAt = Ticks(value); }
    public DateTimeOffset? FinishedAt { get => Time(_finishedAt); internal set => _finishedAt = Ticks(value); }

    /// <summary>The task's cache key, for a task with a cache policy, once its inputs are known.</summary>
    public string? CacheKey { get => _rare?.CacheKey; internal set { if (value is not null || _rare is not null) Rarely().CacheKey = value; } }

    /// <summary>Whether the task completed, by running or from its cache.</summary>
    public bool Succeeded => State is TaskState.Completed or TaskState.Cached;

    /// <summary>The attempts before the latest one, oldest first.</summary>
    public IReadOnlyList<AttemptRecord> PastAttempts
    {
        get => (IReadOnlyList<AttemptRecord>?)_rare?.PastAttempts ?? [];
        init
        {
            if (value.Count > 0)
                Rarely().PastAttempts = [.. value];
        }
    }

    internal void AddPastAttempt(AttemptRecord attempt) => (Rarely().PastAttempts ??= []).Add(attempt);

    /// <summary>Changed since the run was last stored (then it is in <see cref="RunRecord.ChangedTasks"/>).</summary>
    public bool Dirty { get; internal set; }

    public bool IsFinal => Final(State);

    internal static bool Final(TaskState state) =>
        state is TaskState.Completed or TaskState.Failed or TaskState.TimedOut or TaskState.Skipped or TaskState.Cancelled or TaskState.TriggerFailed
            or TaskState.Cached;

    /// <summary>Whether the task ended as a failure, as triggers and reference tasks count it: failed, timed out, its trigger failed, or skipped because of a failure upstream.</summary>
    public bool HasFailed => State is TaskState.Failed or TaskState.TimedOut or TaskState.TriggerFailed
        || (State == TaskState.Skipped && ErrorType == Contracts.TaskErrors.UpstreamFailed);
}

/// <summary>An attempt that ended without completing its task.</summary>
public sealed record AttemptRecord(
    int Attempt, AttemptOutcome Outcome, string? ErrorType, string? Error, string? Worker, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt);

/// <summary>A line of <c>lume runs</c>.</summary>
/// <param name="TaskCounts">How many of the run's tasks (mapped tasks' children included) are in each state; states with none are left out.</param>
public sealed record RunSummary(
    Guid RunId, string Flow, string Version, RunState State, DateTimeOffset CreatedAt, DateTimeOffset? FinishedAt,
    IReadOnlyDictionary<TaskState, int> TaskCounts);

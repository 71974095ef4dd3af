using System.Runtime.CompilerServices;
using Lume.Flows;

namespace Lume.Scheduler.Runs;

/// <summary>
/// A flow's graph as the Scheduler walks it: tasks by slug, their order, their downstream tasks and the tasks without
/// upstreams. Immutable, and built once per flow definition: every run started from a registered flow shares it.
/// </summary>
public sealed class FlowGraph
{
    static readonly ConditionalWeakTable<FlowDefinition, FlowGraph> Built = new();

    // One dictionary, from slug to position in the flow's order; the rest are arrays by position. A dictionary per
    // relation cost 2.6 MB each for a 100,000-task flow.
    readonly Dictionary<string, int> _positions;
    readonly string[][] _downstream;
    readonly string[][] _upstream;

    FlowGraph(FlowDefinition flow)
    {
        Flow = flow;
        _positions = new Dictionary<string, int>(flow.Tasks.Count, StringComparer.Ordinal);
        for (var i = 0; i < flow.Tasks.Count; i++)
            _positions[flow.Tasks[i].Slug] = i;
        _upstream = flow.Tasks.Select(t => FlowDefinition.UpstreamOf(t).ToArray()).ToArray();
        var downstream = new List<string>?[flow.Tasks.Count];
        for (var i = 0; i < flow.Tasks.Count; i++)
        {
            foreach (var up in _upstream[i])
                (downstream[_positions[up]] ??= []).Add(flow.Tasks[i].Slug);
        }

        // A fan-out's tasks each have the same one task downstream: one array for them all (3 MB in 100,000 tasks).
        var single = new Dictionary<string, string[]>(StringComparer.Ordinal);
        _downstream = downstream.Select(list => list switch
        {
            null => [],
            [var one] => single.TryGetValue(one, out var known) ? known : single[one] = [one],
            _ => list.ToArray(),
        }).ToArray();
        Roots = flow.Tasks.Where((_, i) => _upstream[i].Length == 0).Select(t => t.Slug).ToArray();
        References = flow.ReferenceTasks?.ToArray() ?? DefaultReferences();
    }

    // The terminal tasks; one whose trigger is not the default (a cleanup that always runs, a notice on failure) stands
    // aside for its upstream tasks, so that a task which runs because something failed does not make the run succeed.
    string[] DefaultReferences()
    {
        var references = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var toVisit = new Stack<string>(Flow.Tasks.Where((_, i) => _downstream[i].Length == 0).Select(t => t.Slug).Reverse());
        while (toVisit.TryPop(out var slug))
        {
            if (!seen.Add(slug))
                continue;
            var position = _positions[slug];
            if (Flow.Tasks[position].Trigger == Trigger.AllSuccessful || _upstream[position].Length == 0)
                references.Add(slug);
            else
                foreach (var up in _upstream[position].Reverse())
                    toVisit.Push(up);
        }

        return references.OrderBy(PositionOf).ToArray();
    }

    /// <summary>The graph of <paramref name="flow"/>, built the first time it is asked for.</summary>
    public static FlowGraph Of(FlowDefinition flow) => Built.GetValue(flow, f => new FlowGraph(f));

    public FlowDefinition Flow { get; }

    /// <summary>The tasks without upstreams: the first a run releases.</summary>
    public IReadOnlyList<string> Roots { get; }

    /// <summary>The task's node; a mapped task's child (<c>square[3]</c>) has its parent's.</summary>
    public TaskNode Node(string slug) =>
        Flow.Tasks[_positions.TryGetValue(slug, out var position) ? position
            : _positions[MappedSlug.Parse(slug).Parent ?? throw new KeyNotFoundException($"the flow has no task '{slug}'")]];

    /// <summary>Where the task stands in the flow's order.</summary>
    public int PositionOf(string slug) => _positions[slug];

    /// <summary>The tasks whose states decide whether a run completed or failed (see <see cref="FlowBuilder.ReferenceTasks"/>).</summary>
    public IReadOnlyList<string> References { get; }

    /// <summary>The tasks <paramref name="slug"/> directly depends on.</summary>
    public IReadOnlyList<string> UpstreamOf(string slug) => _upstream[_positions[slug]];

    /// <summary>The tasks that directly depend on <paramref name="slug"/>.</summary>
    public IReadOnlyList<string> DownstreamOf(string slug) => _positions.TryGetValue(slug, out var position) ? _downstream[position] : [];
}

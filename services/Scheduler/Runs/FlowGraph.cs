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

    readonly Dictionary<string, TaskNode> _nodes;
    readonly Dictionary<string, int> _positions;
    readonly Dictionary<string, string[]> _downstream;
    readonly Dictionary<string, string[]> _upstream;

    FlowGraph(FlowDefinition flow)
    {
        Flow = flow;
        _nodes = flow.Tasks.ToDictionary(t => t.Slug, StringComparer.Ordinal);
        _positions = flow.Tasks.Select((t, i) => (t.Slug, i)).ToDictionary(p => p.Slug, p => p.i, StringComparer.Ordinal);
        var downstream = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var task in flow.Tasks)
        {
            foreach (var up in FlowDefinition.UpstreamOf(task))
                (downstream.TryGetValue(up, out var list) ? list : downstream[up] = []).Add(task.Slug);
        }

        _downstream = downstream.ToDictionary(p => p.Key, p => p.Value.ToArray(), StringComparer.Ordinal);
        _upstream = flow.Tasks.ToDictionary(t => t.Slug, t => FlowDefinition.UpstreamOf(t).ToArray(), StringComparer.Ordinal);
        Roots = flow.Tasks.Where(t => _upstream[t.Slug].Length == 0).Select(t => t.Slug).ToArray();
        References = flow.ReferenceTasks?.ToArray() ?? DefaultReferences();
    }

    // The terminal tasks; one whose trigger is not the default (a cleanup that always runs, a notice on failure) stands
    // aside for its upstream tasks, so that a task which runs because something failed does not make the run succeed.
    string[] DefaultReferences()
    {
        var references = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var toVisit = new Stack<string>(Flow.Tasks.Where(t => !_downstream.ContainsKey(t.Slug)).Select(t => t.Slug).Reverse());
        while (toVisit.TryPop(out var slug))
        {
            if (!seen.Add(slug))
                continue;
            if (_nodes[slug].Trigger == Trigger.AllSuccessful || _upstream[slug].Length == 0)
                references.Add(slug);
            else
                foreach (var up in _upstream[slug].Reverse())
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
        _nodes.TryGetValue(slug, out var node) ? node : _nodes[MappedSlug.Parse(slug).Parent ?? throw new KeyNotFoundException($"the flow has no task '{slug}'")];

    /// <summary>Where the task stands in the flow's order.</summary>
    public int PositionOf(string slug) => _positions[slug];

    /// <summary>The tasks whose states decide whether a run completed or failed (see <see cref="FlowBuilder.ReferenceTasks"/>).</summary>
    public IReadOnlyList<string> References { get; }

    /// <summary>The tasks <paramref name="slug"/> directly depends on.</summary>
    public IReadOnlyList<string> UpstreamOf(string slug) => _upstream[slug];

    /// <summary>The tasks that directly depend on <paramref name="slug"/>.</summary>
    public IReadOnlyList<string> DownstreamOf(string slug) => _downstream.TryGetValue(slug, out var list) ? list : [];
}

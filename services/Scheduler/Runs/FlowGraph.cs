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
        Roots = flow.Tasks.Where(t => !FlowDefinition.UpstreamOf(t).Any()).Select(t => t.Slug).ToArray();
    }

    /// <summary>The graph of <paramref name="flow"/>, built the first time it is asked for.</summary>
    public static FlowGraph Of(FlowDefinition flow) => Built.GetValue(flow, f => new FlowGraph(f));

    public FlowDefinition Flow { get; }

    /// <summary>The tasks without upstreams: the first a run releases.</summary>
    public IReadOnlyList<string> Roots { get; }

    public TaskNode Node(string slug) => _nodes[slug];

    /// <summary>Where the task stands in the flow's order.</summary>
    public int PositionOf(string slug) => _positions[slug];

    /// <summary>The tasks that directly depend on <paramref name="slug"/>.</summary>
    public IReadOnlyList<string> DownstreamOf(string slug) => _downstream.TryGetValue(slug, out var list) ? list : [];
}

using Lume.Flows;
using Lume.Scheduler.Runs;

namespace Lume.Scheduler.Tests.Runs;

public class FlowGraphTests
{
    [Fact]
    public void TheTasksDownstreamOfEachTask_InTheFlowsOrder_OneArrayForTasksWithTheSameOneTaskDownstream()
    {
        var flow = Flow.Define("fan", f =>
        {
            var items = Enumerable.Range(0, 3).Select(i => f.Task("identity", new { value = i }, name: $"item-{i}")).ToArray();
            f.Task("sum", new { a = items[0], b = items[1], c = items[2] }, name: "sum");
            f.Task("identity", new { value = items[2] }, name: "also");
        });

        var graph = FlowGraph.Of(flow);

        Assert.Equal(["sum"], graph.DownstreamOf("item-0"));
        Assert.Equal(["sum", "also"], graph.DownstreamOf("item-2"));
        Assert.Empty(graph.DownstreamOf("sum"));
        Assert.Same(graph.DownstreamOf("item-0"), graph.DownstreamOf("item-1"));
        Assert.Equal(["item-0", "item-1", "item-2"], graph.UpstreamOf("sum"));
    }
}

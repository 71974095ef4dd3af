using Lume.Flows;

namespace Lume.Examples;

/// <summary>Flows of many trivial tasks, for the integration tests and the benchmarks.</summary>
public static class ScaleFlows
{
    /// <summary><paramref name="length"/> increments in a row, each taking the result of the one before.</summary>
    public static FlowDefinition Chain(int length) => Flow.Define($"chain_{length}", f =>
    {
        var previous = f.Task("increment", new { value = f.Parameter("start", 0) }, name: "step-1");
        for (var i = 2; i <= length; i++)
            previous = f.Task("increment", new { value = previous }, name: $"step-{i}");
    });

    /// <summary><paramref name="width"/> independent tasks, then one that gathers all their results.</summary>
    public static FlowDefinition FanOut(int width) => Flow.Define($"fanout_{width}", f =>
    {
        var items = Enumerable.Range(1, width)
            .ToDictionary(i => $"item-{i}", object? (i) => f.Task("identity", new { value = i }, name: $"item-{i}"));
        f.Task("gather", items, name: "gather");
    });

    /// <summary>
    /// <paramref name="depth"/> layers of <paramref name="width"/> increments: each task takes the result of the task
    /// beside it in the layer before and also waits for that one's neighbour, so every layer waits for the one before.
    /// </summary>
    public static FlowDefinition Layered(int width, int depth) => Flow.Define($"layered_{width}x{depth}", f =>
    {
        var layer = Enumerable.Range(0, width).Select(i => f.Task("increment", new { value = i }, name: $"l1-{i}")).ToArray();
        for (var d = 2; d <= depth; d++)
        {
            var previous = layer;
            layer = Enumerable.Range(0, width)
                .Select(i => f.Task("increment", new { value = previous[i] }, name: $"l{d}-{i}").SetUpstream(previous[(i + 1) % width]))
                .ToArray();
        }
    });

    /// <summary>One task that waits, then saves a text file: long enough to kill its worker midway.</summary>
    public static readonly FlowDefinition SlowSave = Flow.Define("slow_save", f =>
        f.Task("slow_save_text", new
        {
            text = f.Parameter("text"),
            filename = f.Parameter("filename"),
            seconds = f.Parameter("seconds", 3.0),
        }));

    /// <summary>A result as large as asked for (a claim check past 64 KiB), then a task that takes it.</summary>
    public static readonly FlowDefinition BigResult = Flow.Define("big_result", f =>
    {
        var big = f.Task("repeat_text", new { text = f.Parameter("text"), times = f.Parameter("times") }, name: "big");
        f.Task("append_text", new { text1 = big, text2 = "!" }, name: "after");
    });

    public static IReadOnlyList<FlowDefinition> All { get; } = [Chain(200), FanOut(20), FanOut(500), SlowSave, BigResult];
}

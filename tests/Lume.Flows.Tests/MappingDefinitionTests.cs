using System.Text.Json;

namespace Lume.Flows.Tests;

/// <summary>Mapped tasks in the builder, in JSON, and in the checks.</summary>
public class MappingDefinitionTests
{
    [Fact]
    public void Map_MapsEveryArgumentButTheUnmappedOnes_AndFlattenIsWrittenToo()
    {
        var flow = Flow.Define("m", f =>
        {
            var values = f.Parameter("values");
            f.Map("power", new { x = f.Flatten(values), exponent = f.Unmapped(2), offset = f.Unmapped(f.Parameter("offset", 0)) }, name: "square");
        });

        var square = flow.Tasks.Single();
        Assert.Equal(["x"], square.Map);
        Assert.Equal(["x"], square.Flatten);
        Assert.Equal(new ParameterInput("values"), square.Inputs["x"]);
        Assert.Equal(new ParameterInput("offset"), square.Inputs["offset"]);
        Assert.Equal(2, Assert.IsType<ConstantInput>(square.Inputs["exponent"]).Value.GetInt32());

        var json = FlowJson.Write(flow);
        Assert.Contains("\"map\":[\"x\"]", json.Replace(" ", "", StringComparison.Ordinal).Replace("\n", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Equal(json, FlowJson.Write(FlowJson.Parse(json)));
    }

    [Fact]
    public void Map_WithEveryArgumentUnmapped_IsRefused()
    {
        var error = Assert.Throws<FlowDefinitionException>(() => Flow.Define("m", f => f.Map("power", new { x = f.Unmapped(1) }, name: "square")));

        Assert.Contains("task 'square': a mapped task needs at least one mapped argument", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnmappedOutsideAMap_IsRefused_NamingTheArgument()
    {
        var error = Assert.Throws<FlowDefinitionException>(() => Flow.Define("m", f => f.Task("power", new { x = f.Unmapped(1) }, name: "square")));

        Assert.Contains("task 'square': argument 'x' is marked unmapped or flatten", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CheckGraph_FindsEveryMappingProblem()
    {
        var inputs = new Dictionary<string, TaskInput> { ["x"] = new ConstantInput(JsonSerializer.SerializeToElement(new[] { 1 })) };
        var flow = new FlowDefinition("f", "1", [], [
            new TaskNode("a[0]", "t", inputs, []),
            new TaskNode("b", "t", inputs, [], Map: ["y", "x", "x"]),
            new TaskNode("c", "t", inputs, [], Map: []),
            new TaskNode("d", "t", inputs, [], Flatten: ["x"]),
        ]);

        var problems = FlowChecks.CheckGraph(flow);

        Assert.Contains(problems, p => p.Contains("task 'a[0]': a task name may not hold '[' or ']'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("task 'b': mapped argument 'y' is not one of its arguments (x)", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("task 'b': argument 'x' is mapped more than once", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("task 'c': map is empty", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("task 'd': argument 'x' is flattened but not mapped", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("square[3]", "square", 3)]
    [InlineData("a[b][12]", "a[b]", 12)]
    [InlineData("square", null, -1)]
    [InlineData("square[x]", null, -1)]
    [InlineData("square[-1]", null, -1)]
    [InlineData("[1]", null, -1)]
    public void MappedSlug_ParsesOnlyAChildsSlug(string slug, string? parent, int index)
    {
        Assert.Equal((parent, index), MappedSlug.Parse(slug));
        if (parent is not null)
            Assert.Equal(slug, MappedSlug.Of(parent, index));
    }

    [Fact]
    public void Flatten_JoinsInnerLists_AndKeepsOtherItems()
    {
        var flat = TaskInputs.Flatten(JsonSerializer.SerializeToElement(new object[] { new[] { 1, 2 }, Array.Empty<int>(), 3, new[] { 4 } }));

        Assert.Equal("[1,2,3,4]", flat.GetRawText());
    }
}

using System.Text.Json;

namespace Lume.Flows.Tests;

public class FlowBuilderTests
{
    static FlowDefinition Flow1() => Flow.Define("flow1", f =>
    {
        var text1 = f.Parameter("text1");
        var text2 = f.Parameter("text2");
        var filename = f.Parameter("filename");
        var configure = f.Task("configure_lume_services");
        var newText = f.Task("append_text", new { text1, text2 });
        f.Task("save_file", new { obj = newText, filename, file_type = "TextFile" }, name: "save_text_file").SetUpstream(configure);
    });

    [Fact]
    public void Define_BindsParametersTaskOutputsAndConstants()
    {
        var flow = Flow1();

        var save = flow.FindTask("save_text_file")!;
        Assert.Equal("save_file", save.Type);
        Assert.Equal(new TaskOutput("append_text"), save.Inputs["obj"]);
        Assert.Equal(new ParameterInput("filename"), save.Inputs["filename"]);
        Assert.Equal("TextFile", Assert.IsType<ConstantInput>(save.Inputs["file_type"]).Value.GetString());
        Assert.Equal(["configure_lume_services"], save.Upstream);
        Assert.Equal(["append_text", "configure_lume_services"], FlowDefinition.UpstreamOf(save).ToArray());
    }

    [Fact]
    public void Define_NumbersRepeatedCallsOfOneTaskType()
    {
        var flow = Flow.Define("twice", f =>
        {
            var a = f.Task("append_text", new { text1 = "a", text2 = "b" });
            f.Task("append_text", new { text1 = a, text2 = "c" });
            f.Task("append_text", new { text1 = a, text2 = "d" });
        });

        Assert.Equal(["append_text", "append_text-2", "append_text-3"], flow.Tasks.Select(t => t.Slug).ToArray());
    }

    [Fact]
    public void Define_TakesArgumentsFromADictionary()
    {
        var flow = Flow.Define("dict", f =>
            f.Task("append_text", new Dictionary<string, object?> { ["text1"] = f.Parameter("x"), ["text2"] = 42 }));

        var task = flow.Tasks.Single();
        Assert.Equal(new ParameterInput("x"), task.Inputs["text1"]);
        Assert.Equal(42, Assert.IsType<ConstantInput>(task.Inputs["text2"]).Value.GetInt32());
    }

    [Fact]
    public void Define_WithTaskResultsInsideAList_SaysSoInsteadOfPassingThemAsAConstant()
    {
        var error = Assert.Throws<FlowDefinitionException>(() => Flow.Define("listed", f =>
        {
            var a = f.Task("step", name: "a");
            var b = f.Task("step", name: "b");
            f.Task("gather", new { values = new[] { a, b }, label = new[] { "x", "y" } }, name: "all");
        }));

        Assert.Equal(["task 'all': argument 'values' holds task results or parameters inside a list, which a task input cannot be; " +
            "pass each as an argument of its own (an IDictionary<string, object?> of arguments takes any number)"], error.Problems);
    }

    [Fact]
    public void Define_WithBrokenGraph_ThrowsListingEveryProblem()
    {
        var error = Assert.Throws<FlowDefinitionException>(() => Flow.Define("broken", f =>
        {
            f.Task("a", name: "same");
            f.Task("b", name: "same");
            f.Task("c", new { x = new ParameterRef("undeclared") });
        }));

        Assert.Contains(error.Problems, p => p.Contains("task name 'same'", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p.Contains("parameter 'undeclared'", StringComparison.Ordinal));
    }

    [Fact]
    public void Json_RoundTripsADefinition()
    {
        var flow = Flow.Define("json", f =>
        {
            var p = f.Parameter("p");
            var q = f.Parameter("q", new { nested = new[] { 1, 2 } });
            var a = f.Task("a", new { p, constant = new { x = 1.5, y = "é" }, nothing = (object?)null });
            f.Task("b", new { a, q }).SetUpstream(f.Task("c"));
        }, version: "2.1");

        var json = FlowJson.Write(flow);
        var again = FlowJson.Parse(json);

        Assert.Equal(json, FlowJson.Write(again));
        Assert.Equal("2.1", again.Version);
        Assert.Equal(JsonValueKind.Null, Assert.IsType<ConstantInput>(again.FindTask("a")!.Inputs["nothing"]).Value.ValueKind);
        Assert.Equal(new TaskOutput("a"), again.FindTask("b")!.Inputs["a"]);
        Assert.Equal(["c"], again.FindTask("b")!.Upstream);
    }

    [Theory]
    [InlineData("not json", "malformed")]
    [InlineData("""{"name":"x","version":"1","parameters":[]}""", "tasks")]
    [InlineData("""{"name":"x","version":"1","parameters":[],"tasks":[{"slug":"a","type":"t","inputs":{"i":{"from":"nowhere"}},"upstream":[]}]}""", "nowhere")]
    public void Json_ParseOfABadDefinition_SaysWhatIsWrong(string json, string mentioned)
    {
        var error = Assert.Throws<FlowDefinitionException>(() => FlowJson.Parse(json));

        Assert.Contains(mentioned, error.Message, StringComparison.OrdinalIgnoreCase);
    }
}

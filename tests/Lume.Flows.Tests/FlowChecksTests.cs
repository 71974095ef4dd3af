using System.Text.Json;

namespace Lume.Flows.Tests;

public class FlowChecksTests
{
    static TaskNode Node(string slug, string type = "t", IReadOnlyDictionary<string, TaskInput>? inputs = null, params string[] upstream) =>
        new(slug, type, inputs ?? new Dictionary<string, TaskInput>(), upstream);

    static FlowDefinition FlowOf(params TaskNode[] tasks) => new("f", "1", [new FlowParameter("p")], tasks);

    [Fact]
    public void CheckGraph_OfASoundFlow_FindsNothing()
    {
        var flow = FlowOf(Node("a"), Node("b", inputs: new Dictionary<string, TaskInput> { ["x"] = new TaskOutput("a"), ["y"] = new ParameterInput("p") }));

        Assert.Empty(FlowChecks.CheckGraph(flow, new HashSet<string> { "t" }));
    }

    [Fact]
    public void CheckGraph_FindsACycleAndNamesItsTasks()
    {
        var flow = FlowOf(Node("a", upstream: "c"), Node("b", upstream: "a"), Node("c", upstream: "b"), Node("d"));

        var problem = Assert.Single(FlowChecks.CheckGraph(flow));

        Assert.Contains("cycle", problem, StringComparison.Ordinal);
        foreach (var slug in new[] { "a", "b", "c" })
            Assert.Contains($"{slug}", problem, StringComparison.Ordinal);
        Assert.DoesNotContain("d", problem.Split(':')[^1], StringComparison.Ordinal);
    }

    [Fact]
    public void CheckGraph_FindsATaskThatDependsOnItself()
    {
        var problems = FlowChecks.CheckGraph(FlowOf(Node("a", upstream: "a")));

        Assert.Contains(problems, p => p.Contains("task 'a'", StringComparison.Ordinal) && p.Contains("itself", StringComparison.Ordinal));
    }

    [Fact]
    public void CheckGraph_FindsUnknownTaskTypesAndListsTheKnownOnes()
    {
        var problem = Assert.Single(FlowChecks.CheckGraph(FlowOf(Node("a", type: "nope")), new HashSet<string> { "t", "u" }));

        Assert.Contains("task 'a'", problem, StringComparison.Ordinal);
        Assert.Contains("'nope'", problem, StringComparison.Ordinal);
        Assert.Contains("t, u", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void CheckGraph_FindsReferencesToMissingTasksAndParameters()
    {
        var flow = FlowOf(Node("a", inputs: new Dictionary<string, TaskInput>
        {
            ["x"] = new TaskOutput("ghost"),
            ["y"] = new ParameterInput("missing"),
        }, upstream: "phantom"));

        var problems = FlowChecks.CheckGraph(flow);

        Assert.Equal(3, problems.Count);
        Assert.Contains(problems, p => p.Contains("argument 'x'", StringComparison.Ordinal) && p.Contains("'ghost'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("argument 'y'", StringComparison.Ordinal) && p.Contains("'missing'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("upstream task 'phantom'", StringComparison.Ordinal));
    }

    [Fact]
    public void CheckGraph_FindsDuplicateTaskAndParameterNames()
    {
        var flow = new FlowDefinition("f", "1", [new FlowParameter("p"), new FlowParameter("p")], [Node("a"), Node("a")]);

        var problems = FlowChecks.CheckGraph(flow);

        Assert.Contains(problems, p => p.Contains("parameter 'p' is declared more than once", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("task name 'a' is used by more than one task", StringComparison.Ordinal));
    }

    static Dictionary<string, JsonElement> Values(params (string Name, object? Value)[] values) =>
        values.ToDictionary(v => v.Name, v => JsonSerializer.SerializeToElement(v.Value));

    [Fact]
    public void CheckParameters_ReportsMissingAndUndeclaredTogether()
    {
        var flow = new FlowDefinition("f", "1", [new FlowParameter("text1"), new FlowParameter("text2")], [Node("a")]);

        var (_, problems) = FlowChecks.CheckParameters(flow, Values(("text1", "x"), ("text3", "y")));

        Assert.Equal(2, problems.Count);
        Assert.Contains(problems, p => p.StartsWith("parameter 'text2': missing", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("parameter 'text3': not declared", StringComparison.Ordinal));
    }

    [Fact]
    public void CheckParameters_RefusesAValueThatIsNotJson()
    {
        var flow = new FlowDefinition("f", "1", [new FlowParameter("p")], [Node("a")]);

        var (_, problems) = FlowChecks.CheckParameters(flow, new Dictionary<string, JsonElement> { ["p"] = default });

        Assert.Equal("parameter 'p': the value is not JSON", Assert.Single(problems));
    }

    [Fact]
    public void CheckParameters_FillsInDefaults()
    {
        var flow = new FlowDefinition("f", "1", [new FlowParameter("p"), new FlowParameter("q", JsonSerializer.SerializeToElement(7))], [Node("a")]);

        var (parameters, problems) = FlowChecks.CheckParameters(flow, Values(("p", true)));

        Assert.Empty(problems);
        Assert.Equal(7, parameters["q"].GetInt32());
        Assert.True(parameters["p"].GetBoolean());
    }

    [Fact]
    public void Catalog_FindsTheNewestVersionAndNamesUnknownFlows()
    {
        FlowDefinition Version(string v) => new("f", v, [], [Node("a")]);
        var catalog = new FlowCatalog([Version("2"), Version("10"), Version("9")]);

        Assert.Equal("10", catalog.Find("f", null).Flow!.Version);
        Assert.Equal("9", catalog.Find("f", "9").Flow!.Version);
        Assert.Contains("no version '3'", catalog.Find("f", "3").Problem, StringComparison.Ordinal);
        Assert.Contains("flow 'g': unknown flow; known flows: f", catalog.Find("g", null).Problem, StringComparison.Ordinal);
        Assert.Throws<FlowDefinitionException>(() => new FlowCatalog([Version("1"), Version("1")]));
    }

    [Fact]
    public void TaskInputs_ResolvesParametersResultsAndConstants()
    {
        var task = Node("b", inputs: new Dictionary<string, TaskInput>
        {
            ["x"] = new ParameterInput("p"),
            ["y"] = new TaskOutput("a"),
            ["z"] = new ConstantInput(JsonSerializer.SerializeToElement(3)),
        });

        var values = TaskInputs.Resolve(task, Values(("p", "param")), slug => JsonSerializer.SerializeToElement($"result of {slug}"));

        Assert.Equal("param", values["x"].GetString());
        Assert.Equal("result of a", values["y"].GetString());
        Assert.Equal(3, values["z"].GetInt32());
    }

    [Fact]
    public void AWideFlowWithAnUnknownTaskType_ReportsTheFirstProblems_AndHowManyMore()
    {
        var tasks = Enumerable.Range(1, 1000).Select(i => Node($"item-{i}", "nope")).ToArray();

        var problems = FlowChecks.CheckGraph(FlowOf(tasks), new HashSet<string> { "t" });

        Assert.Equal(FlowChecks.MostProblems + 1, problems.Count);
        Assert.Contains("task 'item-1': unknown task type 'nope'", problems[0], StringComparison.Ordinal);
        Assert.Equal($"… and {1000 - FlowChecks.MostProblems:N0} more problems of the same flow", problems[^1]);
    }
}

using System.Text.Json;
using Lume.Contracts;
using Lume.Flows;
using Lume.Scheduler.Runs;
using static Lume.Scheduler.Tests.TestFlows;

namespace Lume.Scheduler.Tests.Runs;

/// <summary>Mapped tasks as the state machine runs them: one child per element, known only at run time.</summary>
public class MappingTests
{
    static readonly DateTimeOffset Now = new(2026, 11, 27, 12, 0, 0, TimeSpan.Zero);

    /// <summary>"square" mapped over the parameter "values" (with "power" unmapped), then "sum" of the list.</summary>
    static readonly FlowDefinition MapThenSum = Flow.Define("map_then_sum", f =>
    {
        var squares = f.Map("power", new { x = f.Parameter("values"), exponent = f.Unmapped(2) }, name: "square");
        f.Task("sum", new { values = squares });
    });

    static (RunRecord Run, Step Step) Start(FlowDefinition flow, params (string, object?)[] parameters) =>
        RunProgression.Start(Guid.NewGuid(), flow, "default", Parameters(parameters), Now);

    static Step Apply(RunRecord run, object message) => RunProgression.Apply(run, message, Now);

    static Dictionary<string, TaskReady> Released(Step step) => step.Messages.OfType<TaskReady>().ToDictionary(r => r.TaskSlug);

    static string[] States(RunRecord run) => run.OrderedTasks.Select(t => $"{t.Slug}:{RunProgression.State(t.State)}").ToArray();

    [Fact]
    public void AMappedTask_ReleasesOneChildPerElement_AndTheNextTaskGetsTheirResultsInOrder()
    {
        var (run, started) = Start(MapThenSum, ("values", new[] { 1, 2, 3 }));
        var released = Released(started);

        Assert.Equal(["square[0]", "square[1]", "square[2]"], released.Keys.Order());
        Assert.Equal([1, 2, 3], released.Values.OrderBy(r => r.TaskSlug).Select(r => r.Inputs["x"].GetInt32()));
        Assert.All(released.Values, r => Assert.Equal((2, "power"), (r.Inputs["exponent"].GetInt32(), r.TaskType)));
        Assert.Equal(TaskState.Mapped, run.Tasks["square"].State);

        // Children end in any order; the list keeps the elements' order.
        Assert.Empty(Ready(Apply(run, Completed(run, "square[2]", 9))));
        Assert.Empty(Ready(Apply(run, Completed(run, "square[0]", 1))));
        var last = Apply(run, Completed(run, "square[1]", 4));

        var sum = Assert.Single(last.Messages.OfType<TaskReady>());
        Assert.Equal(("sum", "[1,4,9]"), (sum.TaskSlug, sum.Inputs["values"].GetRawText()));
        Assert.Equal(["square:completed", "square[0]:completed", "square[1]:completed", "square[2]:completed", "sum:ready"], States(run));
        Apply(run, Completed(run, "sum", 14));
        Assert.Equal(RunState.Completed, run.State);
    }

    [Fact]
    public void ARunsTasksFromAnOffset_AreItsOrderedTasksFromThere_AcrossMappedChildren()
    {
        var flow = Flow.Define("two_maps", f =>
        {
            var values = f.Parameter("values");
            var first = f.Map("power", new { x = values, exponent = f.Unmapped(2) }, name: "first");
            var middle = f.Task("sum", new { values = first }, name: "middle");
            f.Map("power", new { x = values, exponent = f.Unmapped(middle) }, name: "second");
            f.Task("sum", new { values }, name: "last");
        });
        var (run, _) = Start(flow, ("values", new[] { 1, 2, 3 }));
        var all = run.OrderedTasks.Select(t => t.Slug).ToArray();

        Assert.Equal(["first", "first[0]", "first[1]", "first[2]", "middle", "second", "last"], all);
        for (var offset = 0; offset <= all.Length + 1; offset++)
            Assert.Equal(all.Skip(offset), run.OrderedTasksFrom(offset).Select(t => t.Slug));
    }

    [Fact]
    public void MappingOverNoElement_CompletesTheMappedTaskAtOnce_WithAnEmptyList()
    {
        var (run, started) = Start(MapThenSum, ("values", Array.Empty<int>()));

        var sum = Assert.Single(started.Messages.OfType<TaskReady>());
        Assert.Equal(("sum", "[]"), (sum.TaskSlug, sum.Inputs["values"].GetRawText()));
        Assert.Equal(["square:completed", "sum:ready"], States(run));
    }

    [Fact]
    public void MappingOverOneElement_RunsOneChild()
    {
        var (run, started) = Start(MapThenSum, ("values", new[] { 5 }));

        Assert.Equal(["square[0]"], Ready(started));
        Assert.Equal(["sum"], Ready(Apply(run, Completed(run, "square[0]", 25))));
        Assert.Equal("[25]", run.Tasks["square"].Result!.Value.GetRawText());
    }

    [Theory]
    [InlineData("\"1,2,3\"", "mapped argument 'x' (parameter 'values') is a string, not a list")]
    [InlineData("{\"a\":1}", "mapped argument 'x' (parameter 'values') is an object, not a list")]
    [InlineData("null", "mapped argument 'x' (parameter 'values') is null, not a list")]
    public void MappingOverWhatIsNotAList_FailsTheTask_NamingTheArgumentAndWhatItGot(string values, string expected)
    {
        var (run, started) = Start(MapThenSum, ("values", JsonDocument.Parse(values).RootElement));

        Assert.Empty(Ready(started));
        Assert.Equal((TaskState.Failed, TaskErrors.MappingError), (run.Tasks["square"].State, run.Tasks["square"].ErrorType));
        Assert.Contains(expected, run.Tasks["square"].Error, StringComparison.Ordinal);
        Assert.Equal(TaskState.Skipped, run.Tasks["sum"].State);
        Assert.Equal((RunState.Failed, "square"), (run.State, run.FailedTask));
        Assert.Single(started.Messages.OfType<RunFailed>());
    }

    [Fact]
    public void MappedArgumentsOfDifferentLengths_FailTheTask_NamingEachLength()
    {
        var flow = Flow.Define("pairs", f => f.Map("add", new { a = f.Parameter("a"), b = f.Parameter("b") }, name: "add"));
        var (run, _) = Start(flow, ("a", new[] { 1, 2 }), ("b", new[] { 1, 2, 3 }));

        Assert.Equal(TaskErrors.MappingError, run.Tasks["add"].ErrorType);
        Assert.Contains("different lengths ('a': 2, 'b': 3)", run.Tasks["add"].Error, StringComparison.Ordinal);
        Assert.Equal(RunState.Failed, run.State);
    }

    [Fact]
    public void AListFromAnUpstreamTask_IsMappedOnceThatTaskCompletes()
    {
        var flow = Flow.Define("from_task", f =>
        {
            var list = f.Task("make_list", name: "list");
            f.Task("sum", new { values = f.Map("power", new { x = list, exponent = f.Unmapped(3) }, name: "cube") });
        });
        var (run, started) = Start(flow);
        Assert.Equal(["list"], Ready(started));

        var mapped = Released(Apply(run, Completed(run, "list", new[] { 2, 3 })));

        Assert.Equal([2, 3], mapped.Values.OrderBy(r => r.TaskSlug).Select(r => r.Inputs["x"].GetInt32()));
    }

    [Fact]
    public void AFailedChild_IsRetriedByTheTasksPolicy_AndOnlyThatChild()
    {
        var flow = Flow.Define("retry_child", f =>
            f.Task("sum", new { values = f.Map("power", new { x = f.Parameter("values") }, name: "square").Retry(1) }));
        var (run, _) = Start(flow, ("values", new[] { 1, 2 }));
        Apply(run, Completed(run, "square[0]", 1));

        var retried = Apply(run, Failed(run, "square[1]", retryable: true));

        Assert.Equal(["square[1]"], Ready(retried));
        Assert.Equal(2, run.Tasks["square[1]"].Attempt);
        Assert.Equal(1, run.Tasks["square[0]"].Attempt);
        Assert.Equal(["sum"], Ready(Apply(run, Completed(run, "square[1]", 4))));
    }

    [Fact]
    public void AChildThatFailsForGood_FailsTheMappedTask_AndTheRun_NamingTheChild()
    {
        var (run, _) = Start(MapThenSum, ("values", new[] { 1, 2, 3 }));
        Apply(run, Completed(run, "square[0]", 1));
        Apply(run, Failed(run, "square[1]"));
        var end = Apply(run, Completed(run, "square[2]", 9));

        Assert.Equal((TaskState.Failed, TaskErrors.MappedTaskFailed), (run.Tasks["square"].State, run.Tasks["square"].ErrorType));
        Assert.Contains("1 of 3 mapped tasks did not complete; the first, 'square[1]', failed", run.Tasks["square"].Error, StringComparison.Ordinal);
        Assert.Equal("[1,null,9]", run.Tasks["square"].Result!.Value.GetRawText());
        Assert.Equal((TaskState.Skipped, TaskErrors.UpstreamFailed), (run.Tasks["sum"].State, run.Tasks["sum"].ErrorType));
        Assert.Equal("square[1]", Assert.Single(end.Messages.OfType<RunFailed>()).FailedTask);
    }

    [Fact]
    public void AfterAFailedChild_ATaskThatRunsWhateverHappened_GetsTheListWithNullForIt()
    {
        var flow = Flow.Define("reduce_anyway", f =>
            f.Task("sum", new { values = f.Map("power", new { x = f.Parameter("values") }, name: "square") }).Trigger(Trigger.AllFinished));
        var (run, _) = Start(flow, ("values", new[] { 1, 2 }));
        Apply(run, Failed(run, "square[0]"));

        var sum = Assert.Single(Apply(run, Completed(run, "square[1]", 4)).Messages.OfType<TaskReady>());

        Assert.Equal("[null,4]", sum.Inputs["values"].GetRawText());
        Apply(run, Completed(run, "sum", 4));
        Assert.Equal(RunState.Failed, run.State); // the mapped task is a reference task's upstream: its failure is not hidden
    }

    [Fact]
    public void MappingAMappedResult_GoesElementByElement_AndAFailedElementSkipsOnlyItsOwn()
    {
        var flow = Flow.Define("map_map", f =>
        {
            var squares = f.Map("power", new { x = f.Parameter("values") }, name: "square");
            var plus = f.Map("increment", new { value = squares }, name: "plus_one");
            f.Task("sum", new { values = plus }).Trigger(Trigger.AllFinished);
        });
        var (run, _) = Start(flow, ("values", new[] { 1, 2, 3 }));
        Apply(run, Completed(run, "square[0]", 1));
        Assert.Equal(TaskState.Pending, run.Tasks["plus_one"].State); // it waits for the whole list
        Apply(run, Failed(run, "square[1]"));

        var released = Released(Apply(run, Completed(run, "square[2]", 9)));

        Assert.Equal(["plus_one[0]", "plus_one[2]"], released.Keys.Order());
        Assert.Equal((1, 9), (released["plus_one[0]"].Inputs["value"].GetInt32(), released["plus_one[2]"].Inputs["value"].GetInt32()));
        Assert.Equal((TaskState.Skipped, TaskErrors.UpstreamFailed), (run.Tasks["plus_one[1]"].State, run.Tasks["plus_one[1]"].ErrorType));
        Apply(run, Completed(run, "plus_one[0]", 2));
        var sum = Assert.Single(Apply(run, Completed(run, "plus_one[2]", 10)).Messages.OfType<TaskReady>());
        Assert.Equal("[2,null,10]", sum.Inputs["values"].GetRawText());
    }

    [Fact]
    public void AFlattenedArgument_MapsOverTheItemsOfItsInnerLists()
    {
        var flow = Flow.Define("flat", f => f.Map("power", new { x = f.Flatten(f.Parameter("nested")) }, name: "square"));
        var (_, started) = Start(flow, ("nested", new[] { new[] { 1, 2 }, [], [3] }));

        var released = Released(started);

        Assert.Equal([1, 2, 3], released.Values.OrderBy(r => r.TaskSlug).Select(r => r.Inputs["x"].GetInt32()));
    }

    [Fact]
    public void CancellingAMappedRun_CancelsEveryChildStillRunning()
    {
        var (run, _) = Start(MapThenSum, ("values", new[] { 1, 2, 3 }));
        Apply(run, Completed(run, "square[0]", 1));

        Apply(run, new CancelRun(run.RunId, "enough"));

        Assert.Equal(RunState.Cancelled, run.State);
        Assert.Equal(["square:cancelled", "square[0]:completed", "square[1]:cancelled", "square[2]:cancelled", "sum:cancelled"], States(run));
        Assert.Equal("ended", Apply(run, Completed(run, "square[1]", 4)).Dropped?.Kind);
    }

    [Fact]
    public void AReportForTheMappedTaskItself_ChangesNothing()
    {
        var (run, _) = Start(MapThenSum, ("values", new[] { 1 }));

        var step = Apply(run, new TaskCompleted(run.RunId, "square", 0, Guid.Empty, Json(7), "w", Now, Now));

        Assert.NotNull(step.Dropped);
        Assert.Equal(TaskState.Mapped, run.Tasks["square"].State);
    }

    [Fact]
    public void TenThousandElements_RunAsTenThousandChildren_AndTheirListKeepsTheOrder()
    {
        var values = Enumerable.Range(0, 10_000).ToArray();
        var (run, started) = Start(MapThenSum, ("values", values));
        // Released a slice at a time: each confirmed slice sends the next.
        var released = new List<string>();
        for (var step = started; step.Messages.Count > 0; step = Apply(run, new MessagesSent(step.Messages)))
            released.AddRange(step.Messages.OfType<TaskReady>().Select(t => t.TaskSlug));
        Assert.Equal(values.Select(i => MappedSlug.Of("square", i)), released);

        Step last = Step.Unchanged;
        foreach (var i in values.Reverse())
            last = Apply(run, Completed(run, MappedSlug.Of("square", i), i * 2));

        var sum = Assert.Single(last.Messages.OfType<TaskReady>());
        Assert.Equal(values.Select(i => i * 2), sum.Inputs["values"].EnumerateArray().Select(v => v.GetInt32()));
    }

    [Fact]
    public void AManualOnlyMappedTask_WaitsForOneApproval_ThenMapsEveryElement()
    {
        var flow = Flow.Define("approve_map", f => f.Map("power", new { x = f.Parameter("values") }, name: "square").Trigger(Trigger.ManualOnly));
        var (run, started) = Start(flow, ("values", new[] { 1, 2 }));
        Assert.Empty(Ready(started));
        Assert.Equal(TaskState.Paused, run.Tasks["square"].State);

        var approved = Apply(run, new Approval(new ApproveTask(run.RunId, "square")));

        Assert.Equal(["square[0]", "square[1]"], Ready(approved));
    }
}

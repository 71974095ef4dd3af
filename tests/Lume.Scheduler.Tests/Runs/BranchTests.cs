using Lume.Contracts;
using Lume.Flows;
using Lume.Scheduler.Runs;
using static Lume.Scheduler.Tests.TestFlows;

namespace Lume.Scheduler.Tests.Runs;

/// <summary>case, merge, and what a task gets from an upstream task that did not complete.</summary>
public class BranchTests
{
    static readonly DateTimeOffset Now = new(2026, 11, 27, 12, 0, 0, TimeSpan.Zero);

    static RunRecord Start(FlowDefinition flow) => RunProgression.Start(Guid.NewGuid(), flow, "default", Parameters(), Now).Run;

    static Step Apply(RunRecord run, object message) => RunProgression.Apply(run, message, Now);

    /// <summary>"test" decides between "yes" (then "yes_after") and "no"; "joined" merges the two branches.</summary>
    static readonly FlowDefinition TwoWays = Flow.Define("two_ways", f =>
    {
        var test = f.Task("step", name: "test");
        TaskRef yes, no;
        using (f.Case(test, "yes"))
        {
            var first = f.Task("step", name: "yes");
            yes = f.Task("step", new { value = first }, name: "yes_after");
        }

        using (f.Case(test, "no"))
            no = f.Task("step", name: "no");
        f.Task("step", new { value = f.Merge("joined", yes, no) }, name: "report");
    });

    [Theory]
    [InlineData("yes", new[] { "yes" }, "no")]
    [InlineData("no", new[] { "no" }, "yes")]
    public void ACase_RunsOnlyTheBranchWhoseValueTheConditionReturned_AndSkipsTheOther(string answer, string[] released, string skipped)
    {
        var run = Start(TwoWays);

        Assert.Equal(released, Ready(Apply(run, Completed(run, "test", answer))));
        Assert.Equal((TaskState.Skipped, (string?)null), (run.Tasks[skipped].State, run.Tasks[skipped].ErrorType));
        Assert.Contains($"'test' returned \"{answer}\"", run.Tasks[skipped].Error, StringComparison.Ordinal);
        Assert.Equal(RunState.Running, run.State);
    }

    [Fact]
    public void AMerge_TakesTheResultOfTheBranchThatRan_WithoutAWorker_AndTheRunCompletes()
    {
        var run = Start(TwoWays);
        Apply(run, Completed(run, "test", "yes"));
        Assert.Equal(["yes_after"], Ready(Apply(run, Completed(run, "yes", 1))));
        Assert.Equal(TaskState.Skipped, run.Tasks["no"].State);

        var step = Apply(run, Completed(run, "yes_after", 2));

        Assert.Equal((TaskState.Completed, 2), (run.Tasks["joined"].State, run.Tasks["joined"].Result!.Value.GetInt32()));
        var report = Assert.Single(step.Messages.OfType<TaskReady>());
        Assert.Equal(("report", 2), (report.TaskSlug, report.Inputs["value"].GetInt32()));
        Apply(run, Completed(run, "report", "done"));
        Assert.Equal(RunState.Completed, run.State);
    }

    [Fact]
    public void AFailedCondition_SkipsBothBranchesAndTheMerge_AsAFailure_AndTheRunFails()
    {
        var run = Start(TwoWays);
        Apply(run, Failed(run, "test"));

        Assert.All(new[] { "yes", "yes_after", "no", "joined", "report" },
            slug => Assert.Equal((TaskState.Skipped, TaskErrors.UpstreamFailed), (run.Tasks[slug].State, run.Tasks[slug].ErrorType)));
        Assert.Equal((RunState.Failed, "test"), (run.State, run.FailedTask));
    }

    [Fact]
    public void WhenNoBranchRuns_TheMergeIsSkipped_AndSoIsWhatComesAfter_AndTheRunCompletes()
    {
        var run = Start(TwoWays);
        Apply(run, Completed(run, "test", "maybe"));

        Assert.All(new[] { "yes", "yes_after", "no", "joined", "report" }, slug => Assert.Equal(TaskState.Skipped, run.Tasks[slug].State));
        Assert.Equal(RunState.Completed, run.State);
    }

    [Fact]
    public void NestedCases_AllHaveToHold()
    {
        var flow = Flow.Define("nested", f =>
        {
            var a = f.Task("step", name: "a");
            var b = f.Task("step", name: "b");
            using (f.Case(a, true))
            using (f.Case(b, 3))
                f.Task("step", name: "inner");
            f.Task("step", name: "outside");
        });
        Assert.Equal(2, flow.FindTask("inner")!.Case!.Count);
        Assert.Null(flow.FindTask("outside")!.Case);

        var run = Start(flow);
        Apply(run, Completed(run, "a", true));
        Assert.Equal(["inner"], Ready(Apply(run, Completed(run, "b", 3))));
        var other = Start(flow);
        Apply(other, Completed(other, "a", true));
        Apply(other, Completed(other, "b", 4));
        Assert.Equal(TaskState.Skipped, other.Tasks["inner"].State);
    }

    [Fact]
    public void ATaskThatRunsAfterAFailure_GetsNullForTheFailedTasksResult()
    {
        var flow = Flow.Define("after_failure", f =>
        {
            var work = f.Task("step", name: "work");
            f.Task("step", new { value = work }, name: "cleanup").Trigger(Trigger.AllFinished);
        });
        var run = Start(flow);

        var cleanup = Assert.Single(Apply(run, Failed(run, "work")).Messages.OfType<TaskReady>());

        Assert.Equal(System.Text.Json.JsonValueKind.Null, cleanup.Inputs["value"].ValueKind);
    }

    [Fact]
    public void CasesAndMerges_RoundTripThroughJson_AndBadOnesAreNamed()
    {
        var json = FlowJson.Write(TwoWays);

        Assert.Contains("\"case\":[{\"task\":\"test\",\"value\":\"yes\"}]", json, StringComparison.Ordinal);
        Assert.Contains("\"type\":\"merge\"", json, StringComparison.Ordinal);
        Assert.Equal(json, FlowJson.Write(FlowJson.Parse(json)));
        Assert.Empty(FlowChecks.CheckGraph(TwoWays, new HashSet<string> { "step" })); // no worker needs to offer merge
        var broken = FlowJson.Parse(json.Replace("\"case\":[{\"task\":\"test\"", "\"case\":[{\"task\":\"nothing\"", StringComparison.Ordinal));
        Assert.Contains(FlowChecks.CheckGraph(broken), p => p.Contains("its case refers to task 'nothing', which is not in the flow", StringComparison.Ordinal));
    }
}

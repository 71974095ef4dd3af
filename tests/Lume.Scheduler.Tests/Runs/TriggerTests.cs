using Lume.Contracts;
using Lume.Flows;
using Lume.Scheduler.Runs;
using static Lume.Scheduler.Tests.TestFlows;

namespace Lume.Scheduler.Tests.Runs;

/// <summary>Triggers and reference tasks, as the state machine applies them.</summary>
public class TriggerTests
{
    static readonly DateTimeOffset Now = new(2026, 11, 27, 12, 0, 0, TimeSpan.Zero);

    static RunRecord Start(FlowDefinition flow) => RunProgression.Start(Guid.NewGuid(), flow, "default", Parameters(), Now).Run;

    static Step Apply(RunRecord run, object message) => RunProgression.Apply(run, message, Now);

    /// <summary>"work" then "cleanup" that always runs after it.</summary>
    static readonly FlowDefinition Cleanup = Flow.Define("cleanup", f =>
    {
        var work = f.Task("step", name: "work");
        f.Task("step", name: "cleanup").SetUpstream(work).Trigger(Trigger.AllFinished);
    });

    /// <summary>Two branches "a" and "b", then one task of the trigger given after both.</summary>
    static FlowDefinition Join(Trigger trigger) => Flow.Define("join", f =>
    {
        var a = f.Task("step", name: "a");
        var b = f.Task("step", name: "b");
        f.Task("step", name: "then").SetUpstream(a, b).Trigger(trigger);
    });

    [Theory]
    [InlineData(Trigger.AllSuccessful, true, true, "ready")]
    [InlineData(Trigger.AllSuccessful, true, false, "skipped")]
    [InlineData(Trigger.AllFailed, false, false, "ready")]
    [InlineData(Trigger.AllFailed, true, false, "trigger_failed")]
    [InlineData(Trigger.AnySuccessful, true, false, "ready")]
    [InlineData(Trigger.AnySuccessful, false, false, "trigger_failed")]
    [InlineData(Trigger.AnyFailed, true, false, "ready")]
    [InlineData(Trigger.AnyFailed, true, true, "trigger_failed")]
    [InlineData(Trigger.AllFinished, false, false, "ready")]
    [InlineData(Trigger.AllFinished, true, true, "ready")]
    public void ATrigger_IsDecidedOnceEveryUpstreamTaskHasEnded(Trigger trigger, bool aCompletes, bool bCompletes, string expected)
    {
        var run = Start(Join(trigger));
        Apply(run, aCompletes ? Completed(run, "a", 1) : Failed(run, "a"));
        Assert.Equal(TaskState.Pending, run.Tasks["then"].State); // b has not ended yet

        var step = Apply(run, bCompletes ? Completed(run, "b", 2) : Failed(run, "b"));

        Assert.Equal(expected, RunProgression.State(run.Tasks["then"].State));
        Assert.Equal(expected == "ready" ? ["then"] : [], Ready(step));
    }

    [Fact]
    public void ACleanupThatAlwaysRuns_RunsAfterAFailure_AndTheRunStillFails()
    {
        var run = Start(Cleanup);
        Assert.Equal(["cleanup"], Ready(Apply(run, Failed(run, "work"))));
        Assert.Equal(RunState.Running, run.State);

        var end = Apply(run, Completed(run, "cleanup", null));

        Assert.Equal(RunState.Failed, run.State);
        Assert.Equal("work", run.FailedTask);
        var failed = Assert.Single(end.Messages.OfType<RunFailed>());
        Assert.Equal("work", failed.FailedTask);
    }

    [Fact]
    public void ACleanupThatAlwaysRuns_AfterSuccess_CompletesTheRun()
    {
        var run = Start(Cleanup);
        Apply(run, Completed(run, "work", 1));
        Apply(run, Completed(run, "cleanup", null));

        Assert.Equal(RunState.Completed, run.State);
        Assert.Null(run.FailedTask);
    }

    [Fact]
    public void ANoticeOnFailure_ThatIsAReferenceTask_MakesAHandledFailureAnEndedRun()
    {
        var flow = Flow.Define("handled", f =>
        {
            var work = f.Task("step", name: "work");
            var notice = f.Task("step", name: "notice").SetUpstream(work).Trigger(Trigger.AnyFailed);
            f.ReferenceTasks(notice);
        });
        var run = Start(flow);
        Apply(run, Failed(run, "work"));
        Apply(run, Completed(run, "notice", "sent"));

        Assert.Equal(RunState.Completed, run.State);
    }

    [Fact]
    public void ANoticeOnFailure_WhenNothingFailed_EndsTriggerFailed_AndWithDefaultReferencesTheRunCompletes()
    {
        var flow = Flow.Define("notice", f =>
        {
            var work = f.Task("step", name: "work");
            f.Task("step", name: "notice").SetUpstream(work).Trigger(Trigger.AnyFailed);
        });
        var run = Start(flow);
        var step = Apply(run, Completed(run, "work", 1));

        Assert.Equal(TaskState.TriggerFailed, run.Tasks["notice"].State);
        Assert.Equal(TaskErrors.TriggerFailed, run.Tasks["notice"].ErrorType);
        Assert.Contains("any_failed", run.Tasks["notice"].Error, StringComparison.Ordinal);
        Assert.Equal(RunState.Completed, run.State);
        Assert.Single(step.Messages.OfType<RunCompleted>());
    }

    [Fact]
    public void ATriggerFailedTask_SkipsTheTasksAfterIt_AndFailsTheRunWhenItIsAReference()
    {
        var flow = Flow.Define("chain", f =>
        {
            var work = f.Task("step", name: "work");
            var onlyIfFailed = f.Task("step", name: "recover").SetUpstream(work).Trigger(Trigger.AllFailed);
            f.Task("step", new { value = onlyIfFailed }, name: "after");
        });
        var run = Start(flow);
        Apply(run, Completed(run, "work", 1));

        Assert.Equal(TaskState.TriggerFailed, run.Tasks["recover"].State);
        Assert.Equal((TaskState.Skipped, TaskErrors.UpstreamFailed), (run.Tasks["after"].State, run.Tasks["after"].ErrorType));
        Assert.Equal(RunState.Failed, run.State);
        Assert.Equal("recover", run.FailedTask);
    }

    [Fact]
    public void ARetriedTask_DecidesItsDownstreamTriggerOnlyWhenItsLastAttemptEnds()
    {
        var flow = Flow.Define("retried", f =>
        {
            var work = f.Task("step", name: "work").Retry(1);
            f.Task("step", name: "cleanup").SetUpstream(work).Trigger(Trigger.AllFinished);
        });
        var run = Start(flow);

        Assert.DoesNotContain("cleanup", Ready(Apply(run, Failed(run, "work", retryable: true))));
        Assert.Equal(TaskState.Pending, run.Tasks["cleanup"].State);
        Assert.Equal(["cleanup"], Ready(Apply(run, Failed(run, "work", retryable: true))));
    }

    [Fact]
    public void WithoutTriggers_AFailureSkipsEverythingDownstream_AsBefore()
    {
        var run = Start(Branches);
        Apply(run, Failed(run, "bad"));
        Apply(run, Completed(run, "side", 1));

        Assert.Equal((TaskState.Skipped, TaskErrors.UpstreamFailed), (run.Tasks["after"].State, run.Tasks["after"].ErrorType));
        Assert.Equal(TaskState.Skipped, run.Tasks["after2"].State);
        Assert.Equal((RunState.Failed, "bad"), (run.State, run.FailedTask));
    }

    [Fact]
    public void AManualOnlyTask_WaitsPausedAfterItsUpstream_UntilApproved_AndOnlyOnce()
    {
        var flow = Flow.Define("approval", f =>
        {
            var prepare = f.Task("step", name: "prepare");
            f.Task("step", new { value = prepare }, name: "deploy").Trigger(Trigger.ManualOnly);
        });
        var run = Start(flow);
        Assert.Empty(Ready(Apply(run, Completed(run, "prepare", 1))));
        Assert.Equal(TaskState.Paused, run.Tasks["deploy"].State);
        Assert.Contains($"lume runs approve {run.RunId} deploy", run.Tasks["deploy"].Error, StringComparison.Ordinal);

        var wrong = new Approval(new ApproveTask(run.RunId, "prepare"));
        Assert.Equal("not_paused", Apply(run, wrong).Dropped?.Kind);
        Assert.Contains("task 'prepare' is completed, not waiting for approval", wrong.Refused, StringComparison.Ordinal);

        var approval = new Approval(new ApproveTask(run.RunId, "deploy"));
        var released = Assert.Single(Apply(run, approval).Messages.OfType<TaskReady>());
        Assert.Null(approval.Refused);
        Assert.Equal(("deploy", 1), (released.TaskSlug, released.Inputs["value"].GetInt32()));

        var again = new Approval(new ApproveTask(run.RunId, "deploy"));
        Assert.Empty(Apply(run, again).Messages);
        Assert.NotNull(again.Refused);
        Apply(run, Completed(run, "deploy", "done"));
        Assert.Equal(RunState.Completed, run.State);
    }

    [Fact]
    public void AManualOnlyFirstTask_IsPausedFromTheStart_AndACancelEndsIt()
    {
        var flow = Flow.Define("gate", f => f.Task("step", name: "gate").Trigger(Trigger.ManualOnly));
        var (run, step) = RunProgression.Start(Guid.NewGuid(), flow, "default", Parameters(), Now);

        Assert.Empty(Ready(step));
        Assert.Equal(TaskState.Paused, run.Tasks["gate"].State);
        Apply(run, new CancelRun(run.RunId, "not today"));
        Assert.Equal((RunState.Cancelled, TaskState.Cancelled), (run.State, run.Tasks["gate"].State));
    }

    [Fact]
    public void AManualOnlyTask_AfterAFailure_IsSkipped_NotPaused()
    {
        var flow = Flow.Define("gated", f => f.Task("step", name: "deploy").SetUpstream(f.Task("step", name: "prepare")).Trigger(Trigger.ManualOnly));
        var run = Start(flow);
        Apply(run, Failed(run, "prepare"));

        Assert.Equal((TaskState.Skipped, TaskErrors.UpstreamFailed), (run.Tasks["deploy"].State, run.Tasks["deploy"].ErrorType));
        Assert.Equal(RunState.Failed, run.State);
    }

    [Fact]
    public void ReferenceTasks_AndTriggers_RoundTripThroughJson_AndBadOnesAreNamed()
    {
        var flow = Flow.Define("json", f =>
        {
            var work = f.Task("step", name: "work");
            f.Task("step", name: "cleanup").SetUpstream(work).Trigger(Trigger.AllFinished);
            f.ReferenceTasks(work);
        });
        var json = FlowJson.Write(flow);

        Assert.Contains("\"trigger\":\"all_finished\"", json, StringComparison.Ordinal);
        Assert.Equal(json, FlowJson.Write(FlowJson.Parse(json)));
        Assert.DoesNotContain("trigger", FlowJson.Write(Diamond), StringComparison.Ordinal);
        var bad = Assert.Throws<FlowDefinitionException>(() => FlowJson.Parse(json.Replace("all_finished", "sometimes", StringComparison.Ordinal)));
        Assert.Contains("trigger", bad.Message, StringComparison.Ordinal);
        var missing = FlowJson.Parse(json.Replace("\"reference_tasks\":[\"work\"]", "\"reference_tasks\":[\"nowhere\"]", StringComparison.Ordinal));
        Assert.Contains("flow 'json': reference task 'nowhere' is not in the flow", FlowChecks.CheckGraph(missing));
    }
}

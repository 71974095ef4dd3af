using Lume.Contracts;
using Lume.Flows;
using Lume.Scheduler.Runs;
using static Lume.Scheduler.Tests.TestFlows;

namespace Lume.Scheduler.Tests.Runs;

public class RunProgressionTests
{
    static readonly DateTimeOffset Now = new(2026, 11, 26, 12, 0, 0, TimeSpan.Zero);
    static readonly Guid RunId = Guid.NewGuid();

    static (RunRecord Run, Step Step) Start(FlowDefinition flow, params (string, object?)[] parameters) =>
        RunProgression.Start(RunId, flow, "default", Parameters(parameters), Now);

    static string[] Ready(Step step) => step.Messages.OfType<TaskReady>().Select(t => t.TaskSlug).Order().ToArray();

    [Fact]
    public void Start_ReleasesOnlyTasksWithoutUpstreams()
    {
        var (run, step) = Start(Upstream, ("text1", "hi"));

        Assert.Equal(["append_text", "configure_lume_services"], Ready(step));
        Assert.Equal(TaskState.Pending, run.Tasks["save"].State);
        Assert.IsType<RunAccepted>(step.Messages[0]);
        Assert.Equal("hi", step.Messages.OfType<TaskReady>().Single(t => t.TaskSlug == "append_text").Inputs["text1"].GetString());
    }

    [Fact]
    public void SetUpstream_HoldsATaskUntilItsExtraUpstreamCompletes()
    {
        var (run, _) = Start(Upstream, ("text1", "hi"));

        var afterAppend = RunProgression.TaskCompleted(run, Completed(RunId, "append_text", "hi!"), Now);
        Assert.Empty(Ready(afterAppend));

        var afterConfigure = RunProgression.TaskCompleted(run, Completed(RunId, "configure_lume_services", null), Now);
        var save = Assert.Single(afterConfigure.Messages.OfType<TaskReady>());
        Assert.Equal("save", save.TaskSlug);
        Assert.Equal("hi!", save.Inputs["obj"].GetString());
    }

    [Fact]
    public void Diamond_ReleasesTheJoinOnceBothBranchesComplete_InEitherOrder()
    {
        var (run, _) = Start(Diamond, ("start", 1));

        Assert.Equal(["b", "c"], Ready(RunProgression.TaskCompleted(run, Completed(RunId, "a", 2), Now)));
        Assert.Empty(Ready(RunProgression.TaskCompleted(run, Completed(RunId, "c", 4), Now)));
        var join = Assert.Single(RunProgression.TaskCompleted(run, Completed(RunId, "b", 3), Now).Messages.OfType<TaskReady>());

        Assert.Equal("d", join.TaskSlug);
        Assert.Equal(3, join.Inputs["left"].GetInt32());
        Assert.Equal(4, join.Inputs["right"].GetInt32());
    }

    [Fact]
    public void DuplicateCompletion_ChangesNothingAndReleasesNothing()
    {
        var (run, _) = Start(Diamond, ("start", 1));
        RunProgression.TaskCompleted(run, Completed(RunId, "a", 2), Now);
        RunProgression.TaskCompleted(run, Completed(RunId, "b", 3), Now);
        RunProgression.TaskCompleted(run, Completed(RunId, "c", 4), Now);

        var again = RunProgression.TaskCompleted(run, Completed(RunId, "c", 99), Now);
        var againA = RunProgression.TaskCompleted(run, Completed(RunId, "a", 99), Now);

        Assert.False(again.Changed);
        Assert.False(againA.Changed);
        Assert.Empty(again.Messages);
        Assert.Equal(4, run.Tasks["c"].Result!.Value.GetInt32());
        Assert.Equal(1, run.Tasks["d"].Attempt);
    }

    [Fact]
    public void OutOfOrderEvents_AreIgnoredWhenTheyNoLongerApply()
    {
        var (run, _) = Start(Diamond, ("start", 1));

        // A completion for a task that was never released, and one of another attempt.
        Assert.False(RunProgression.TaskCompleted(run, Completed(RunId, "d", 0), Now).Changed);
        Assert.False(RunProgression.TaskCompleted(run, Completed(RunId, "a", 1, attempt: 2), Now).Changed);
        Assert.Equal(TaskState.Pending, run.Tasks["d"].State);

        // A TaskStarted that arrives after its TaskCompleted leaves the task completed.
        RunProgression.TaskCompleted(run, Completed(RunId, "a", 2), Now);
        var late = RunProgression.TaskStarted(run, new TaskStarted(RunId, "a", 1, "w", Now));
        Assert.False(late.Changed);
        Assert.Equal(TaskState.Completed, run.Tasks["a"].State);
    }

    [Fact]
    public void TaskStarted_MarksAReadyTaskRunning()
    {
        var (run, _) = Start(Diamond, ("start", 1));

        var step = RunProgression.TaskStarted(run, new TaskStarted(RunId, "a", 1, "worker-7", Now));

        Assert.True(step.Changed);
        Assert.Equal(TaskState.Running, run.Tasks["a"].State);
        Assert.Equal("worker-7", run.Tasks["a"].Worker);
    }

    [Fact]
    public void LastCompletion_CompletesTheRunOnce()
    {
        var (run, _) = Start(Diamond, ("start", 1));
        foreach (var slug in new[] { "a", "b", "c" })
            RunProgression.TaskCompleted(run, Completed(RunId, slug, 0), Now);

        var last = RunProgression.TaskCompleted(run, Completed(RunId, "d", 0), Now);

        Assert.Single(last.Messages.OfType<RunCompleted>());
        Assert.Equal(RunState.Completed, run.State);
        Assert.False(RunProgression.TaskCompleted(run, Completed(RunId, "d", 0), Now).Changed);
    }

    [Fact]
    public void Failure_SkipsEverythingDownstream_AndTheRunFailsWhenTheOtherBranchesEnd()
    {
        var (run, _) = Start(Branches);

        var failed = RunProgression.TaskFailed(run, Failed(RunId, "bad"), Now);

        Assert.Empty(failed.Messages);
        Assert.Equal(TaskState.Skipped, run.Tasks["after"].State);
        Assert.Equal(TaskState.Skipped, run.Tasks["after2"].State);
        Assert.Equal(RunState.Running, run.State);

        var side = RunProgression.TaskCompleted(run, Completed(RunId, "side", "ok"), Now);
        var end = Assert.Single(side.Messages.OfType<RunFailed>());
        Assert.Equal(RunFailureKind.TaskFailed, end.Kind);
        Assert.Equal("bad", end.FailedTask);
        Assert.Contains("bad broke", end.Message, StringComparison.Ordinal);
        Assert.Equal(RunState.Failed, run.State);
    }

    [Fact]
    public void Resume_ReleasesAgainTheTasksAnEventAlreadyReleased()
    {
        var (run, _) = Start(Diamond, ("start", 1));
        RunProgression.TaskCompleted(run, Completed(RunId, "a", 2), Now);
        RunProgression.TaskStarted(run, new TaskStarted(RunId, "b", 1, "w", Now));

        var again = RunProgression.Resume(run, "a", Now).OfType<TaskReady>().Select(t => t.TaskSlug).ToArray();

        // b was picked up by a worker already; c is still waiting for one.
        Assert.Equal(["c"], again);
    }
}

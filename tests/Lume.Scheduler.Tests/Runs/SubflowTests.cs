using Lume.Contracts;
using Lume.Flows;
using Lume.Scheduler.Runs;
using static Lume.Scheduler.Tests.TestFlows;

namespace Lume.Scheduler.Tests.Runs;

/// <summary>Subflows as the state machine runs them: a task released as another flow's run, which reports back when it ends.</summary>
public class SubflowTests
{
    static readonly DateTimeOffset Now = new(2026, 11, 27, 12, 0, 0, TimeSpan.Zero);

    static readonly FlowDefinition Child = Flow.Define("child", f =>
    {
        var doubled = f.Task("double", new { value = f.Parameter("value") }, name: "doubled");
        f.Task("describe", new { value = doubled }, name: "describe");
        f.Task("note", name: "note");
    });

    static FlowDefinition Parent(string? task = "doubled") => Flow.Define("parent", f =>
    {
        var child = f.Subflow("child", new { value = f.Parameter("start") }, name: "inner", task: task).Timeout(TimeSpan.FromMinutes(1));
        f.Task("report", new { value = child }, name: "report");
    });

    static (RunRecord Run, Step Step) Start(FlowDefinition flow, RunParent? parent = null, params (string, object?)[] parameters) =>
        RunProgression.Start(Guid.NewGuid(), flow, "default", Parameters(parameters), Now, parent: parent);

    static Step Apply(RunRecord run, object message) => RunProgression.Apply(run, message, Now);

    // The child run the parent's request asks for, as the Scheduler's RunRequested consumer starts it.
    static RunRecord StartChild(RunRequested request) =>
        RunProgression.Start(request.RunId, Child, "default", request.Parameters.ToDictionary(), Now, parent: request.Parent).Run;

    [Fact]
    public void ASubflowTask_IsReleasedAsARunRequest_WithItsArgumentsAsParameters_AndAnIdOfItsAttempt()
    {
        var (run, started) = Start(Parent(), parameters: ("start", 4));

        var request = Assert.Single(started.Messages.OfType<RunRequested>());

        Assert.Empty(started.Messages.OfType<TaskReady>());
        Assert.Equal(("child", 4), (request.Flow, request.Parameters["value"].GetInt32()));
        Assert.Equal(new RunParent(run.RunId, "inner", 1, run.Tasks["inner"].Token, "doubled"), request.Parent);
        Assert.Equal(RunProgression.SubflowRunId(run.RunId, "inner", 1), request.RunId);
        Assert.NotEqual(RunProgression.SubflowRunId(run.RunId, "inner", 2), request.RunId);
    }

    [Fact]
    public void TheChildsEnd_CompletesTheParentTask_WithTheAskedTasksResult()
    {
        var (parent, started) = Start(Parent(), parameters: ("start", 4));
        var child = StartChild(started.Messages.OfType<RunRequested>().Single());
        Apply(parent, new TaskStarted(parent.RunId, "inner", 1, $"subflow run {child.RunId}", Now));
        Apply(child, Completed(child, "doubled", 8));
        Apply(child, Completed(child, "note", "n"));

        var end = Apply(child, Completed(child, "describe", "eight"));

        var report = Assert.Single(end.Messages.OfType<TaskCompleted>());
        Assert.Equal(8, report.Result.GetInt32());
        var released = Apply(parent, report);
        Assert.Equal(["report"], Ready(released));
        Assert.Equal((TaskState.Completed, 8), (parent.Tasks["inner"].State, parent.Tasks["inner"].Result!.Value.GetInt32()));
    }

    [Fact]
    public void WithoutATaskNamed_TheParentTaskGetsTheChildsOutputs()
    {
        var (parent, started) = Start(Parent(task: null), parameters: ("start", 1));
        var child = StartChild(started.Messages.OfType<RunRequested>().Single());
        Apply(child, Completed(child, "doubled", 2));
        Apply(child, Completed(child, "note", "n"));

        var report = Assert.Single(Apply(child, Completed(child, "describe", "two")).Messages.OfType<TaskCompleted>());

        Assert.Equal("""{"describe":"two","note":"n"}""", report.Result.GetRawText());
    }

    [Fact]
    public void AFailedChild_FailsTheParentTask_NamingTheChildRun()
    {
        var (parent, started) = Start(Parent(), parameters: ("start", 1));
        var child = StartChild(started.Messages.OfType<RunRequested>().Single());
        Apply(child, Completed(child, "note", "n"));

        var report = Assert.Single(Apply(child, Failed(child, "doubled")).Messages.OfType<TaskFailed>());
        Apply(parent, report);

        Assert.Equal(TaskErrors.SubflowFailed, report.ErrorType);
        Assert.Contains($"subflow run {child.RunId} of flow 'child' failed", report.Message, StringComparison.Ordinal);
        Assert.Equal((TaskState.Failed, RunState.Failed), (parent.Tasks["inner"].State, parent.State));
    }

    [Fact]
    public void AskingForATaskTheChildDoesNotHave_FailsTheParentTask_TaskNotInFlow()
    {
        var (_, started) = Start(Parent(task: "nope"), parameters: ("start", 1));
        var child = StartChild(started.Messages.OfType<RunRequested>().Single());
        Apply(child, Completed(child, "doubled", 2));
        Apply(child, Completed(child, "note", "n"));

        var report = Assert.Single(Apply(child, Completed(child, "describe", "two")).Messages.OfType<TaskFailed>());

        Assert.Contains("has no task 'nope' (TaskNotInFlow)", report.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CancellingTheParent_CancelsTheChildRun_AndTheChildsLateReportChangesNothing()
    {
        var (parent, started) = Start(Parent(), parameters: ("start", 1));
        var child = StartChild(started.Messages.OfType<RunRequested>().Single());

        var cancelled = Apply(parent, new CancelRun(parent.RunId, "enough"));

        var cancel = Assert.Single(cancelled.Messages.OfType<CancelRun>());
        Assert.Equal(child.RunId, cancel.RunId);
        Assert.Contains($"run {parent.RunId}, which started it, was cancelled: enough", cancel.Reason, StringComparison.Ordinal);
        var report = Apply(child, cancel).Messages.OfType<TaskFailed>().Single();
        Assert.Equal("ended", Apply(parent, report).Dropped?.Kind);
    }

    [Fact]
    public void ASubflowTaskPastItsTimeout_CancelsItsChildRun()
    {
        var (parent, started) = Start(Parent(), parameters: ("start", 1));
        var request = started.Messages.OfType<RunRequested>().Single();
        Apply(parent, new TaskStarted(parent.RunId, "inner", 1, $"subflow run {request.RunId}", Now));

        var due = RunProgression.Apply(parent, TimersDue.Instance, Now.AddMinutes(2));

        Assert.Equal(request.RunId, Assert.Single(due.Messages.OfType<CancelRun>()).RunId);
        Assert.Equal(TaskState.TimedOut, parent.Tasks["inner"].State);
    }

    [Fact]
    public void AnUnsentRequest_IsSentAgainWithTheSameRunId_AndAConfirmedOneIsNot()
    {
        var (parent, started) = Start(Parent(), parameters: ("start", 1));
        var request = started.Messages.OfType<RunRequested>().Single();
        Apply(parent, new MessagesNotSent([request]));

        var again = Assert.Single(Apply(parent, ResendUnsent.Instance).Messages.OfType<RunRequested>());
        Assert.Equal(request.RunId, again.RunId);
        Apply(parent, new MessagesSent([again]));

        Assert.Empty(Apply(parent, ResendUnsent.Instance).Messages);
    }

    [Fact]
    public void AChildRunsEndNotSent_IsSentAgainWithItsParentsReport()
    {
        var (_, started) = Start(Parent(), parameters: ("start", 1));
        var child = StartChild(started.Messages.OfType<RunRequested>().Single());
        Apply(child, Completed(child, "doubled", 2));
        Apply(child, Completed(child, "note", "n"));
        var end = Apply(child, Completed(child, "describe", "two"));
        Apply(child, new MessagesNotSent(end.Messages));

        var again = Apply(child, ResendUnsent.Instance).Messages;

        Assert.Single(again.OfType<RunCompleted>());
        Assert.Equal(2, Assert.Single(again.OfType<TaskCompleted>()).Result.GetInt32());
    }
}

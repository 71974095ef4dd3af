using System.Text.Json;
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

    static Step Apply(RunRecord run, object message, DateTimeOffset? at = null) => RunProgression.Apply(run, message, at ?? Now);

    /// <summary>"flaky" is retried twice on any retryable error, 10 s then 20 s later; "after" takes its result.</summary>
    static readonly FlowDefinition Flaky = Flow.Define("flaky", f =>
    {
        var flaky = f.Task("step", name: "flaky").Retry(2, TimeSpan.FromSeconds(10), backoff: 2);
        f.Task("step", new { value = flaky }, name: "after");
    });

    /// <summary>"slow" may run 30 s per attempt and is retried once if it times out, at once.</summary>
    static readonly FlowDefinition Slow = Flow.Define("slow", f =>
        f.Task("step", name: "slow").Timeout(TimeSpan.FromSeconds(30)).Retry(1, on: TaskErrors.TimedOut));

    [Fact]
    public void Start_ReleasesOnlyTasksWithoutUpstreams_EachWithAnAttemptToken()
    {
        var (run, step) = Start(Upstream, ("text1", "hi"));

        Assert.Equal(["append_text", "configure_lume_services"], Ready(step));
        Assert.Equal(TaskState.Pending, run.Tasks["save"].State);
        Assert.IsType<RunAccepted>(step.Messages[0]);
        var append = step.Messages.OfType<TaskReady>().Single(t => t.TaskSlug == "append_text");
        Assert.Equal("hi", append.Inputs["text1"].GetString());
        Assert.NotEqual(Guid.Empty, append.Token);
        Assert.Equal(run.Tasks["append_text"].Token, append.Token);
        Assert.NotEqual(append.Token, step.Messages.OfType<TaskReady>().Single(t => t.TaskSlug == "configure_lume_services").Token);
    }

    [Fact]
    public void SetUpstream_HoldsATaskUntilItsExtraUpstreamCompletes()
    {
        var (run, _) = Start(Upstream, ("text1", "hi"));

        var afterAppend = Apply(run, Completed(run, "append_text", "hi!"));
        Assert.Empty(Ready(afterAppend));

        var afterConfigure = Apply(run, Completed(run, "configure_lume_services", null));
        var save = Assert.Single(afterConfigure.Messages.OfType<TaskReady>());
        Assert.Equal("save", save.TaskSlug);
        Assert.Equal("hi!", save.Inputs["obj"].GetString());
    }

    [Fact]
    public void Diamond_ReleasesTheJoinOnceBothBranchesComplete_InEitherOrder()
    {
        var (run, _) = Start(Diamond, ("start", 1));

        Assert.Equal(["b", "c"], Ready(Apply(run, Completed(run, "a", 2))));
        Assert.Empty(Ready(Apply(run, Completed(run, "c", 4))));
        var join = Assert.Single(Apply(run, Completed(run, "b", 3)).Messages.OfType<TaskReady>());

        Assert.Equal("d", join.TaskSlug);
        Assert.Equal(3, join.Inputs["left"].GetInt32());
        Assert.Equal(4, join.Inputs["right"].GetInt32());
    }

    [Fact]
    public void DuplicateCompletion_ChangesNothingAndReleasesNothing_AndSaysWhy()
    {
        var (run, _) = Start(Diamond, ("start", 1));
        Apply(run, Completed(run, "a", 2));
        Apply(run, Completed(run, "b", 3));
        Apply(run, Completed(run, "c", 4));

        var again = Apply(run, Completed(run, "c", 99));

        Assert.False(again.Changed);
        Assert.Empty(again.Messages);
        Assert.Equal("duplicate", again.Dropped!.Kind);
        Assert.Equal(4, run.Tasks["c"].Result!.Value.GetInt32());
        Assert.Equal(1, run.Tasks["d"].Attempt);
    }

    [Fact]
    public void OutOfOrderEvents_AreIgnoredWhenTheyNoLongerApply()
    {
        var (run, _) = Start(Diamond, ("start", 1));

        // A completion for a task that was never released, and one of another attempt.
        Assert.False(Apply(run, Completed(run, "d", 0)).Changed);
        Assert.Equal("stale_attempt", Apply(run, Completed(run, "a", 1, attempt: 2)).Dropped!.Kind);
        Assert.Equal(TaskState.Pending, run.Tasks["d"].State);

        // A TaskStarted that arrives after its TaskCompleted leaves the task completed.
        Apply(run, Completed(run, "a", 2));
        var late = Apply(run, new TaskStarted(RunId, "a", 1, "w", Now));
        Assert.False(late.Changed);
        Assert.Equal(TaskState.Completed, run.Tasks["a"].State);
    }

    [Fact]
    public void AReportWithoutTheAttemptsToken_ChangesNothing()
    {
        var (run, _) = Start(Diamond, ("start", 1));
        var genuine = Completed(run, "a", 2);

        var forged = Apply(run, genuine with { Token = Guid.NewGuid(), Worker = "intruder" });
        var forgedFailure = Apply(run, new TaskFailed(RunId, "a", 1, Guid.NewGuid(), "Boom", "forged", false, "intruder", Now));

        Assert.Equal("wrong_token", forged.Dropped!.Kind);
        Assert.Equal("wrong_token", forgedFailure.Dropped!.Kind);
        Assert.Equal(TaskState.Ready, run.Tasks["a"].State);
        Assert.True(Apply(run, genuine).Changed);
        Assert.Equal("test-worker", run.Tasks["a"].Worker);
    }

    [Fact]
    public void AResultOverTheLimit_ChangesNothing()
    {
        var (run, _) = Start(Diamond, ("start", 1));

        var huge = Apply(run, Completed(run, "a", new string('x', TaskLimits.MaxResultBytes + 1)));

        Assert.Equal("oversized", huge.Dropped!.Kind);
        Assert.Equal(TaskState.Ready, run.Tasks["a"].State);
    }

    [Fact]
    public void TaskStarted_MarksAReadyTaskRunning()
    {
        var (run, _) = Start(Diamond, ("start", 1));

        var step = Apply(run, new TaskStarted(RunId, "a", 1, "worker-7", Now));

        Assert.True(step.Changed);
        Assert.Equal(TaskState.Running, run.Tasks["a"].State);
        Assert.Equal("worker-7", run.Tasks["a"].Worker);
    }

    [Fact]
    public void LastCompletion_CompletesTheRunOnce()
    {
        var (run, _) = Start(Diamond, ("start", 1));
        foreach (var slug in new[] { "a", "b", "c" })
            Apply(run, Completed(run, slug, 0));

        var last = Apply(run, Completed(run, "d", 0));

        Assert.Single(last.Messages.OfType<RunCompleted>());
        Assert.Equal(RunState.Completed, run.State);
        Assert.False(Apply(run, Completed(run, "d", 0)).Changed);
    }

    [Fact]
    public void Failure_SkipsEverythingDownstream_AndTheRunFailsWhenTheOtherBranchesEnd()
    {
        var (run, _) = Start(Branches);

        var failed = Apply(run, Failed(run, "bad"));

        Assert.Empty(failed.Messages);
        Assert.Equal(TaskState.Skipped, run.Tasks["after"].State);
        Assert.Equal(TaskState.Skipped, run.Tasks["after2"].State);
        Assert.Equal(RunState.Running, run.State);

        var side = Apply(run, Completed(run, "side", "ok"));
        var end = Assert.Single(side.Messages.OfType<RunFailed>());
        Assert.Equal(RunFailureKind.TaskFailed, end.Kind);
        Assert.Equal("bad", end.FailedTask);
        Assert.Contains("bad broke", end.Message, StringComparison.Ordinal);
        Assert.Equal(RunState.Failed, run.State);
    }

    [Fact]
    public void ARetryableFailure_WaitsItsDelay_ThenReleasesANewAttemptWithANewToken()
    {
        var (run, start) = Start(Flaky);
        var first = start.Messages.OfType<TaskReady>().Single();

        var failed = Apply(run, Failed(run, "flaky", retryable: true));

        Assert.True(failed.Changed);
        Assert.Empty(failed.Messages);
        Assert.Equal(TaskState.Retrying, run.Tasks["flaky"].State);
        Assert.Equal(Now.AddSeconds(10), failed.WakeAt);
        Assert.Equal("not_due", Apply(run, TimersDue.Instance, Now.AddSeconds(9)).Dropped!.Kind);

        var due = Apply(run, TimersDue.Instance, Now.AddSeconds(10));
        var second = Assert.Single(due.Messages.OfType<TaskReady>());
        Assert.Equal(2, second.Attempt);
        Assert.NotEqual(first.Token, second.Token);
        var past = Assert.Single(run.Tasks["flaky"].PastAttempts);
        Assert.Equal((1, AttemptOutcome.Failed, "InvalidOperationException"), (past.Attempt, past.Outcome, past.ErrorType));

        // The second failure waits twice as long (backoff 2); the third is the last the policy allows.
        Assert.Equal(Now.AddSeconds(10 + 20), Apply(run, Failed(run, "flaky", retryable: true), Now.AddSeconds(10)).WakeAt);
        Apply(run, TimersDue.Instance, Now.AddSeconds(30));
        Assert.Equal(3, run.Tasks["flaky"].Attempt);
        var last = Apply(run, Failed(run, "flaky", retryable: true), Now.AddSeconds(31));
        Assert.Equal(TaskState.Failed, run.Tasks["flaky"].State);
        Assert.Equal(TaskState.Skipped, run.Tasks["after"].State);
        Assert.Single(last.Messages.OfType<RunFailed>());
    }

    [Fact]
    public void AFinalFailure_IsNotRetried()
    {
        var (run, _) = Start(Flaky);

        Apply(run, Failed(run, "flaky", retryable: false));

        Assert.Equal(TaskState.Failed, run.Tasks["flaky"].State);
        Assert.Equal(RunState.Failed, run.State);
    }

    [Fact]
    public void AReportOfAnOldAttempt_AfterARetry_ChangesNothing()
    {
        var (run, _) = Start(Flaky);
        var firstReport = Completed(run, "flaky", "late");
        Apply(run, Failed(run, "flaky", retryable: true));
        Apply(run, TimersDue.Instance, Now.AddSeconds(10));

        var late = Apply(run, firstReport);

        Assert.Equal("stale_attempt", late.Dropped!.Kind);
        Assert.Equal(TaskState.Ready, run.Tasks["flaky"].State);
        Assert.Equal(2, run.Tasks["flaky"].Attempt);
    }

    [Fact]
    public void RetryOn_RetriesOnlyTheNamedErrorTypes()
    {
        var (run, _) = Start(Slow);

        Apply(run, Failed(run, "slow", retryable: true, errorType: "KeyError"));

        Assert.Equal(TaskState.Failed, run.Tasks["slow"].State);
    }

    [Fact]
    public void AnAttemptTheWorkerTimedOut_IsRetriedAtOnce_AndTheLastOneEndsTimedOut()
    {
        var (run, _) = Start(Slow);

        var first = Apply(run, Failed(run, "slow", retryable: true, errorType: TaskErrors.TimedOut));
        var retry = Assert.Single(first.Messages.OfType<TaskReady>());
        Assert.Equal(2, retry.Attempt);
        Assert.Equal(30, retry.TimeoutSeconds);
        Assert.Equal(AttemptOutcome.TimedOut, run.Tasks["slow"].PastAttempts.Single().Outcome);

        var second = Apply(run, Failed(run, "slow", retryable: true, errorType: TaskErrors.TimedOut));
        Assert.Equal(TaskState.TimedOut, run.Tasks["slow"].State);
        Assert.Equal("timed_out", RunProgression.State(run.Tasks["slow"].State));
        Assert.Single(second.Messages.OfType<RunFailed>());
    }

    [Fact]
    public void AWorkerThatStopsAnsweringPastTheTimeout_LosesTheAttempt_AndItsLateReportChangesNothing()
    {
        var (run, _) = Start(Slow);
        var silent = Completed(run, "slow", "too late");
        var started = Apply(run, new TaskStarted(RunId, "slow", 1, "stopped-worker", Now));
        var due = Now.AddSeconds(30) + RunProgression.TimeoutGrace;
        Assert.Equal(due, started.WakeAt);

        Assert.Equal("not_due", Apply(run, TimersDue.Instance, due.AddSeconds(-1)).Dropped!.Kind);
        var fired = Apply(run, TimersDue.Instance, due);

        var retry = Assert.Single(fired.Messages.OfType<TaskReady>());
        Assert.Equal(2, retry.Attempt);
        var lost = run.Tasks["slow"].PastAttempts.Single();
        Assert.Equal((AttemptOutcome.TimedOut, "stopped-worker"), (lost.Outcome, lost.Worker));
        Assert.Equal("stale_attempt", Apply(run, silent).Dropped!.Kind);
    }

    [Fact]
    public void AnAttemptWhoseWorkerWentSilent_IsReplaced_WithoutCountingAgainstRetries()
    {
        var (run, _) = Start(Diamond, ("start", 1));
        var late = Completed(run, "a", 2);
        Apply(run, new TaskStarted(RunId, "a", 1, "hung-worker", Now));

        var step = Apply(run, new AttemptAbandoned("hung-worker", new HeldAttempt(RunId, "a", 1)), Now.AddSeconds(40));

        var again = Assert.Single(step.Messages.OfType<TaskReady>());
        Assert.Equal(2, again.Attempt);
        var lost = Assert.Single(run.Tasks["a"].PastAttempts);
        Assert.Equal((AttemptOutcome.Lost, "hung-worker"), (lost.Outcome, lost.Worker));
        Assert.Equal("stale_attempt", Apply(run, late).Dropped!.Kind); // the hung worker woke up: too late
        Assert.Equal("stale_attempt", Apply(run, new AttemptAbandoned("hung-worker", new HeldAttempt(RunId, "a", 1))).Dropped!.Kind);
    }

    [Fact]
    public void ALostAttempt_LeavesTheTasksRetriesWhole()
    {
        var (run, _) = Start(Slow); // one retry, on TimedOut
        Apply(run, new TaskStarted(RunId, "slow", 1, "killed-worker", Now));
        Apply(run, new AttemptAbandoned("killed-worker", new HeldAttempt(RunId, "slow", 1)), Now.AddSeconds(5));
        Apply(run, new TaskStarted(RunId, "slow", 2, "hung-worker", Now.AddSeconds(6)));

        var fired = Apply(run, TimersDue.Instance, Now.AddSeconds(36) + RunProgression.TimeoutGrace);

        var retry = Assert.Single(fired.Messages.OfType<TaskReady>()); // the timeout is the task's first failure: its retry is owed
        Assert.Equal(3, retry.Attempt);
        Assert.Equal([AttemptOutcome.Lost, AttemptOutcome.TimedOut], run.Tasks["slow"].PastAttempts.Select(a => a.Outcome).ToArray());
    }

    [Fact]
    public void AClaimedCopy_IsWatchedWhileAWorkerHoldsIt_AndTheAttemptIsReplacedOnceEveryWorkerWasHeardWithoutIt()
    {
        var (run, _) = Start(Diamond, ("start", 1));
        var task = run.Tasks["a"];
        var claim = new ClaimAttempt(RunId, "a", 1, task.Token, "worker-2");

        var held = new AttemptClaim(claim, "worker-1");
        var watched = Apply(run, held);

        Assert.Equal(ClaimDecision.Skip, held.Answer!.Decision); // its holder reports it
        Assert.True(watched.Changed); // the claim is stored: a restarted Scheduler goes on watching it
        Assert.NotNull(watched.WakeAt);
        Assert.Empty(watched.Messages); // nothing released before every worker had time to list it
        Assert.Equal("claim_pending", Apply(run, new AttemptClaim(claim, null)).Dropped?.Kind);

        // A worker not heard from since the claim may hold it: ask again later.
        var early = RunProgression.Apply(run, new TimersDue { HolderOf = _ => null, HeardAllSince = _ => false }, Now.AddSeconds(2));
        Assert.Empty(early.Messages.OfType<TaskReady>());
        Assert.NotNull(early.WakeAt);
        // Heard, and it holds it: it keeps it, and the claim is looked at again.
        var kept = RunProgression.Apply(run, new TimersDue { HolderOf = _ => "worker-1", HeardAllSince = _ => true }, Now.AddSeconds(4));
        Assert.Empty(kept.Messages.OfType<TaskReady>());
        Assert.NotNull(run.Tasks["a"].ClaimedAt);
        Assert.NotNull(kept.WakeAt);

        // Its holder went silent (or this Scheduler restarted and never heard it): a new attempt replaces it.
        var replaced = RunProgression.Apply(run, new TimersDue { HolderOf = _ => null, HeardAllSince = _ => true }, Now.AddSeconds(10));
        Assert.Equal(2, Assert.Single(replaced.Messages.OfType<TaskReady>()).Attempt);
        Assert.Equal(AttemptOutcome.Lost, Assert.Single(run.Tasks["a"].PastAttempts).Outcome);
        Assert.Equal("stale_attempt", Apply(run, new AttemptClaim(claim, null)).Dropped?.Kind);
    }

    [Fact]
    public void AClaimDue_BeforeTheSchedulerHeardEveryWorker_WaitsLonger()
    {
        var (run, _) = Start(Diamond, ("start", 1));
        var claim = new ClaimAttempt(RunId, "a", 1, run.Tasks["a"].Token, "worker-2");
        Apply(run, new AttemptClaim(claim, null));

        var early = RunProgression.Apply(run, new TimersDue { HolderOf = _ => null, HeardAllSince = _ => false }, Now.AddSeconds(2));

        Assert.Empty(early.Messages.OfType<TaskReady>());
        Assert.NotNull(early.WakeAt);
        Assert.Equal(1, run.Tasks["a"].Attempt);
    }

    [Fact]
    public void AClaimedAttemptThatEnds_HasNothingLeftToDecide()
    {
        var (run, _) = Start(Diamond, ("start", 1));
        Apply(run, new AttemptClaim(new ClaimAttempt(RunId, "a", 1, run.Tasks["a"].Token, "worker-2"), null));

        Apply(run, Completed(run, "a", 2));

        Assert.Null(run.Tasks["a"].ClaimedAt);
        Assert.DoesNotContain(RunProgression.Apply(run, new TimersDue { HolderOf = _ => null }, Now.AddMinutes(1)).Messages.OfType<TaskReady>(), r => r.TaskSlug == "a");
    }

    [Fact]
    public void Cancel_EndsEveryUnfinishedTask_AndTheRunOnce()
    {
        var (run, _) = Start(Diamond, ("start", 1));
        Apply(run, Completed(run, "a", 2));

        var cancelled = Apply(run, new CancelRun(RunId, "enough"));

        var end = Assert.Single(cancelled.Messages.OfType<RunCancelled>());
        Assert.Equal("enough", end.Reason);
        Assert.Equal(RunState.Cancelled, run.State);
        Assert.Equal(TaskState.Completed, run.Tasks["a"].State);
        Assert.All(["b", "c", "d"], slug => Assert.Equal(TaskState.Cancelled, run.Tasks[slug].State));
        Assert.Equal("ended", Apply(run, new CancelRun(RunId, "again")).Dropped!.Kind);
        Assert.Equal("ended", Apply(run, Completed(run, "b", 3)).Dropped!.Kind);
    }

    [Fact]
    public void ARunPastItsTimeout_IsCancelled()
    {
        var (run, start) = RunProgression.Start(RunId, Diamond, "default", Parameters(("start", 1)), Now, timeoutSeconds: 60);
        Assert.Equal(Now.AddSeconds(60), start.WakeAt);

        var due = Apply(run, TimersDue.Instance, Now.AddSeconds(60));

        Assert.Contains("timed out", Assert.Single(due.Messages.OfType<RunCancelled>()).Reason, StringComparison.Ordinal);
        Assert.Equal(RunState.Cancelled, run.State);
    }

    [Fact]
    public void ResendUnsent_SendsOnlyWhatTheBrokerNeverConfirmed_SoATaskAWorkerMayHoldIsNotSentAgain()
    {
        var (run, start) = Start(Diamond, ("start", 1));
        Apply(run, new MessagesSent(start.Messages));
        var released = Apply(run, Completed(run, "a", 2)); // releases b and c
        var b = released.Messages.OfType<TaskReady>().Single(t => t.TaskSlug == "b");
        var c = released.Messages.OfType<TaskReady>().Single(t => t.TaskSlug == "c");
        // b's send was confirmed: noted for the run's next store, not stored on its own; c's failed.
        Assert.False(Apply(run, new MessagesSent([b])).Changed);
        Assert.Contains(run.ChangedTasks, t => t.Slug == "b");
        Assert.False(Apply(run, new MessagesNotSent([c])).Changed);

        var again = Apply(run, ResendUnsent.Instance);

        Assert.Equal(["c"], Ready(again));
        Assert.Equal(c.Token, again.Messages.OfType<TaskReady>().Single().Token); // the same attempt, not a new one
        Assert.Empty(Ready(Apply(run, ResendUnsent.Instance))); // c is being sent now: not twice
    }

    /// <summary>A fan-out of two and a half slices, then a task that gathers them.</summary>
    static readonly FlowDefinition Wide = Flow.Define("wide", f =>
        f.Task("gather", Enumerable.Range(0, RunProgression.ReleaseSlice * 5 / 2)
            .ToDictionary(i => $"item-{i}", object? (i) => f.Task("identity", new { value = i }, name: $"item-{i}")), name: "gather"));

    static string[] Sent(Step step) => step.Messages.OfType<TaskReady>().Select(t => t.TaskSlug).ToArray();

    [Fact]
    public void AWideStep_IsSentASliceAtATime_EachTaskOnce_AsTheBrokerConfirmsTheSliceBefore()
    {
        var (run, start) = Start(Wide);
        var items = Wide.Tasks.Select(t => t.Slug).Where(s => s != "gather").ToArray();
        Assert.Equal(items[..RunProgression.ReleaseSlice], Sent(start));
        // All are released (ready, stored as such); only the slice is being sent.
        Assert.All(items, slug => Assert.Equal(TaskState.Ready, run.Tasks[slug].State));

        var second = Apply(run, new MessagesSent(start.Messages));
        Assert.False(second.Changed); // queued and being sent are stored alike: nothing to write
        Assert.Equal(items[RunProgression.ReleaseSlice..(2 * RunProgression.ReleaseSlice)], Sent(second));
        var third = Apply(run, new MessagesSent(second.Messages));
        Assert.Equal(items[(2 * RunProgression.ReleaseSlice)..], Sent(third));
        Assert.Empty(Apply(run, new MessagesSent(third.Messages)).Messages);
        Assert.All(items, slug => Assert.Equal(Outbox.Sent, run.Tasks[slug].Dispatch));
    }

    [Fact]
    public void AWideStep_WhoseSliceFailedToGo_SendsItAgainAsCopies_AndTheRestAsFirstCopies_OnlyWhenResent()
    {
        var (run, start) = Start(Wide);
        var firstSlice = Sent(start);
        Assert.Empty(Apply(run, new MessagesNotSent(start.Messages)).Messages);

        var again = Apply(run, ResendUnsent.Instance).Messages.OfType<TaskReady>().ToArray();

        Assert.Equal(firstSlice, again.Where(t => t.SentAgain).Select(t => t.TaskSlug));
        var fresh = again.Where(t => !t.SentAgain).Select(t => t.TaskSlug).ToArray();
        Assert.Equal(RunProgression.ReleaseSlice, fresh.Length);
        Assert.Empty(fresh.Intersect(firstSlice));
    }

    [Fact]
    public void AWideStep_CancelledWhileQueued_SendsNothingMore()
    {
        var (run, start) = Start(Wide);
        Apply(run, new CancelRun(run.RunId, "enough"));

        Assert.Empty(Sent(Apply(run, new MessagesSent(start.Messages))));
        Assert.All(run.Tasks.Values, t => Assert.True(t.IsFinal));
    }

    [Fact]
    public void ResendUnsent_AnnouncesAnEndThatWasNotConfirmed_AndOnlyThat()
    {
        var (run, _) = Start(Branches);
        Apply(run, Failed(run, "bad"));
        var end = Apply(run, Completed(run, "side", "ok"));
        Apply(run, new MessagesNotSent(end.Messages));

        var again = Apply(run, ResendUnsent.Instance);
        Assert.Single(again.Messages.OfType<RunFailed>());
        Apply(run, new MessagesSent(again.Messages));

        Assert.Empty(Apply(run, ResendUnsent.Instance).Messages);
        Assert.Equal(Outbox.Sent, run.Ending);
    }

    [Fact]
    public void AnInterruptedEmbeddedRun_Fails_NamingWhy()
    {
        var (run, _) = Start(Diamond, ("start", 1));

        var step = Apply(run, new RunInterrupted("the process ended"));

        var failed = Assert.Single(step.Messages.OfType<RunFailed>());
        Assert.Equal(RunFailureKind.Interrupted, failed.Kind);
        Assert.Contains("the process ended", failed.Message, StringComparison.Ordinal);
        Assert.All(run.Tasks.Values, t => Assert.Equal(TaskState.Cancelled, t.State));
    }

    [Fact]
    public void RetryPolicy_InJson_ReadsBackTheSame()
    {
        var json = FlowJson.Write(Flaky);
        var back = FlowJson.Parse(json);

        Assert.Equal(Flaky.Tasks[0].Retry, back.Tasks[0].Retry);
        Assert.Equal(2, JsonDocument.Parse(json).RootElement.GetProperty("tasks")[0].GetProperty("retry").GetProperty("retries").GetInt32());
    }
}

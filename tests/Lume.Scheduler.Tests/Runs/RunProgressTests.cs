using Lume.Contracts;
using Lume.Scheduler.Runs;
using static Lume.Scheduler.Tests.TestFlows;

namespace Lume.Scheduler.Tests.Runs;

/// <summary>Which runs RunProgressPublisher tells of, and when: the rules, without a clock or a bus.</summary>
public class RunProgressTests
{
    static readonly DateTimeOffset Start = DateTimeOffset.UnixEpoch.AddYears(50);
    static readonly TimeSpan Second = TimeSpan.FromSeconds(1);

    static RunRecord NewRun() => RunProgression.Start(Guid.NewGuid(), Diamond, "default", Parameters(("start", 1)), Start).Run;

    [Fact]
    public void ARunYoungerThanTheMinimumAge_IsKept_UntilItIsOldEnough_ThenTakenOnce()
    {
        var progress = new RunProgress();
        var run = NewRun();
        progress.Note(run);

        Assert.Empty(progress.Take(Start + Second / 2, Second));
        Assert.Equal([run], progress.Take(Start + Second, Second));
        Assert.Empty(progress.Take(Start + 2 * Second, Second)); // nothing changed since
    }

    [Fact]
    public void ARunNotedManyTimesWithinAPeriod_IsTakenOnce()
    {
        var progress = new RunProgress();
        var run = NewRun();
        for (var i = 0; i < 5; i++)
            progress.Note(run);

        Assert.Single(progress.Take(Start + 2 * Second, Second));
    }

    [Fact]
    public void ARunThatEnded_IsNotTaken_WhetherItEndedBeforeOrAfterItsLastNote()
    {
        var progress = new RunProgress();
        var endedAfter = NewRun();
        var endedBefore = NewRun();
        progress.Note(endedAfter);
        progress.Note(endedBefore);
        RunProgression.Apply(endedBefore, new CancelRun(endedBefore.RunId, "done"), Start);
        progress.Note(endedBefore);
        RunProgression.Apply(endedAfter, new CancelRun(endedAfter.RunId, "done"), Start);

        Assert.Equal(RunState.Cancelled, endedAfter.State);
        Assert.Empty(progress.Take(Start + 2 * Second, Second));
    }
}

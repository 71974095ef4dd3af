using Lume.Contracts;
using Lume.Scheduler.Runs;
using static Lume.Scheduler.Tests.TestFlows;

namespace Lume.Scheduler.Tests.Runs;

/// <summary>A TaskReady the Scheduler cannot tell went out is sent again as a copy the worker must claim, never as a fresh one.</summary>
public class SentAgainTests
{
    static readonly DateTimeOffset Now = new(2026, 11, 27, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void AFirstRelease_IsNotACopy_AndEverySendingAgainIs()
    {
        var (run, started) = RunProgression.Start(Guid.NewGuid(), Diamond, "default", Parameters(("start", 1)), Now);
        var first = Assert.Single(started.Messages.OfType<TaskReady>());
        Assert.False(first.SentAgain);

        RunProgression.Apply(run, new MessagesNotSent([first]), Now);
        var again = Assert.Single(RunProgression.Apply(run, ResendUnsent.Instance, Now).Messages.OfType<TaskReady>());

        Assert.True(again.SentAgain);
        Assert.Equal((first.Attempt, first.Token), (again.Attempt, again.Token));
    }
}

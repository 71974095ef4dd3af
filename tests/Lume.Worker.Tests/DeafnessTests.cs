namespace Lume.Worker.Tests;

/// <summary>When a worker counts as deaf: the broker has tasks for it, it has room, and it got none since the last look.</summary>
public sealed class DeafnessTests
{
    [Theory]
    [InlineData(3u, 0, 4, 10L, 10L, true)] // work waits, all slots free, nothing came
    [InlineData(3u, 3, 4, 10L, 10L, true)] // one slot free is enough for the broker to deliver
    [InlineData(3u, 4, 4, 10L, 10L, false)] // every slot busy: the broker rightly waits
    [InlineData(3u, 0, 4, 11L, 10L, false)] // something came since the last look
    [InlineData(0u, 0, 4, 10L, 10L, false)] // nothing waits
    [InlineData(null, 0, 4, 10L, 10L, false)] // the broker could not be asked: no evidence
    public void LooksDeaf_OnlyWhenWorkWaitsAndAFreeWorkerGetsNone(uint? waiting, int handling, int concurrency, long delivered, long before, bool deaf) =>
        Assert.Equal(deaf, WorkerRegistration.LooksDeaf(waiting, handling, concurrency, delivered, before));

    [Fact]
    public void HeldAttempts_CountsDeliveriesAndTheSlotsTheyHold()
    {
        var held = new HeldAttempts();
        var first = held.Receive();
        using (held.Receive())
            Assert.Equal((2L, 2), (held.Delivered, held.Handling));
        first.Dispose();
        first.Dispose(); // twice frees one slot, not two
        Assert.Equal((2L, 0), (held.Delivered, held.Handling));
    }
}

using System.Collections.Concurrent;
using System.Diagnostics;
using Lume.Contracts;
using Lume.Hosting;

namespace Lume.Worker.Tests;

/// <summary>
/// The embedded hand-over of ready tasks: a task released by a running task is kept by that task's loop (no thread to
/// wake for a chain's next hop), and that must neither lose a task nor hold a fan-out back.
/// </summary>
public sealed class InProcessTasksTests
{
    static TaskReady Task(string slug) =>
        new(Guid.Empty, "flow", slug, "t", 1, Guid.NewGuid(), new Dictionary<string, System.Text.Json.JsonElement>(), DateTimeOffset.UtcNow);

    [Fact]
    public async Task EveryTaskRunsOnce_ThoseReleasedByRunningTasksToo()
    {
        var tasks = new InProcessTasks();
        var ran = new ConcurrentDictionary<string, int>();
        var expected = 0;
        // Roots from the test's thread, each releasing three children from inside its run, to a depth of four; some
        // finish at once and some after a pause, so releases come both from a loop's own thread and from elsewhere.
        for (var depth = 0; depth <= 4; depth++)
            expected += 10 * (int)Math.Pow(3, depth);
        using var stop = new CancellationTokenSource();
        var serving = tasks.ServeAsync("p", 4, async (ready, _) =>
        {
            ran.AddOrUpdate(ready.TaskSlug, 1, (_, n) => n + 1);
            if (ready.TaskSlug[^1] % 2 == 0)
                await System.Threading.Tasks.Task.Yield();
            if (ready.TaskSlug.Count(c => c == '.') < 4)
                tasks.TryDispatch("p", Enumerable.Range(0, 3).Select(i => Task($"{ready.TaskSlug}.{i}")).ToArray(), default);
        }, stop.Token);

        for (var i = 0; i < 10; i++)
            Assert.True(tasks.TryDispatch("p", [Task($"r{i}")], default));
        var clock = Stopwatch.StartNew();
        while (ran.Count < expected && clock.Elapsed < TimeSpan.FromSeconds(30))
            await System.Threading.Tasks.Task.Delay(10);
        await System.Threading.Tasks.Task.Delay(200); // a task run twice would show by now

        Assert.Equal(expected, ran.Count);
        Assert.All(ran, r => Assert.Equal(1, r.Value));
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => serving);
    }

    [Fact]
    public async Task TasksReleasedTogether_RunSideBySide_UpToTheConcurrency()
    {
        var tasks = new InProcessTasks();
        var running = 0;
        var most = 0;
        var done = 0;
        using var stop = new CancellationTokenSource();
        _ = tasks.ServeAsync("p", 4, async (ready, _) =>
        {
            if (ready.TaskSlug == "root")
            {
                // Released from inside a running task: its loop keeps one, and the other three must not wait for it.
                tasks.TryDispatch("p", Enumerable.Range(0, 4).Select(i => Task($"child-{i}")).ToArray(), default);
                return;
            }

            var now = Interlocked.Increment(ref running);
            InterlockedMax(ref most, now);
            await System.Threading.Tasks.Task.Delay(300);
            Interlocked.Decrement(ref running);
            Interlocked.Increment(ref done);
        }, stop.Token);

        tasks.TryDispatch("p", [Task("root")], default);
        var clock = Stopwatch.StartNew();
        while (Volatile.Read(ref done) < 4 && clock.Elapsed < TimeSpan.FromSeconds(30))
            await System.Threading.Tasks.Task.Delay(10);

        Assert.Equal(4, done);
        Assert.Equal(4, most);
        await stop.CancelAsync();
    }

    static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }

    [Fact]
    public void APoolNobodyServes_TakesNoTasks() => Assert.False(new InProcessTasks().TryDispatch("p", [Task("a")], default));
}

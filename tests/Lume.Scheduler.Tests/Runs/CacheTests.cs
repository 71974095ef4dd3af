using System.Text.Json;
using Lume.Contracts;
using Lume.Flows;
using Lume.Scheduler.Runs;
using static Lume.Scheduler.Tests.TestFlows;

namespace Lume.Scheduler.Tests.Runs;

/// <summary>Task caching as the state machine applies it: check, hit, miss, store, and --no-cache.</summary>
public class CacheTests
{
    static readonly DateTimeOffset Now = new(2026, 11, 27, 12, 0, 0, TimeSpan.Zero);

    /// <summary>"square" is cached for an hour; "after" takes its result.</summary>
    static readonly FlowDefinition Cached = Flow.Define("cached", f =>
    {
        var square = f.Task("square", new { value = f.Parameter("value") }, name: "square").Cache(TimeSpan.FromHours(1));
        f.Task("step", new { value = square }, name: "after");
    });

    static (RunRecord Run, Step Step) Start(int value, bool noCache = false) =>
        RunProgression.Start(Guid.NewGuid(), Cached, "default", Parameters(("value", value)), Now, noCache: noCache);

    static Step Apply(RunRecord run, object message) => RunProgression.Apply(run, message, Now);

    [Fact]
    public void ACachedTask_IsFirstLookedUp_AndOnAMissRuns_ThenItsResultIsKeptForItsTime()
    {
        var (run, step) = Start(3);
        var check = Assert.Single(step.Messages.OfType<CheckCache>());
        Assert.Empty(step.Messages.OfType<TaskReady>());
        Assert.Equal(TaskState.Checking, run.Tasks["square"].State);

        var miss = Apply(run, new CacheChecked(run.RunId, "square", check.Key, null));
        var ready = Assert.Single(miss.Messages.OfType<TaskReady>());
        Assert.Equal(("square", 1), (ready.TaskSlug, ready.Attempt));

        var done = Apply(run, Completed(run, "square", 9));
        var kept = Assert.Single(done.Messages.OfType<StoreCache>());
        Assert.Equal((check.Key, 9, Now.AddHours(1)), (kept.Key, kept.Result.GetInt32(), kept.ExpiresAt));
        Assert.Equal("after", Assert.Single(done.Messages.OfType<TaskReady>()).TaskSlug);
    }

    [Fact]
    public void AHit_CompletesTheTaskAsCached_WithTheKeptResult_WithoutAWorker()
    {
        var (run, step) = Start(3);
        var check = Assert.Single(step.Messages.OfType<CheckCache>());

        var hit = Apply(run, new CacheChecked(run.RunId, "square", check.Key, Json(9)));

        Assert.Equal((TaskState.Cached, 9), (run.Tasks["square"].State, run.Tasks["square"].Result!.Value.GetInt32()));
        Assert.Equal(0, run.Tasks["square"].Attempt);
        var after = Assert.Single(hit.Messages.OfType<TaskReady>());
        Assert.Equal(("after", 9), (after.TaskSlug, after.Inputs["value"].GetInt32()));
        Assert.Empty(hit.Messages.OfType<StoreCache>());
        Apply(run, Completed(run, "after", 10));
        Assert.Equal(RunState.Completed, run.State);
    }

    [Fact]
    public void NoCache_RunsTheTaskAtOnce_AndStillKeepsItsResult()
    {
        var (run, step) = Start(3, noCache: true);

        Assert.Empty(step.Messages.OfType<CheckCache>());
        Assert.Equal("square", Assert.Single(step.Messages.OfType<TaskReady>()).TaskSlug);
        Assert.Single(Apply(run, Completed(run, "square", 9)).Messages.OfType<StoreCache>());
    }

    [Fact]
    public void TheKey_DependsOnTheInputs_NotOnTheirMemberOrder()
    {
        var policy = new CachePolicy(60);
        Dictionary<string, JsonElement> Inputs(string json) => new() { ["v"] = JsonSerializer.Deserialize<JsonElement>(json) };

        Assert.Equal(policy.KeyFor("t", Inputs("""{"a":1,"b":[1,2]}""")), policy.KeyFor("t", Inputs("""{"b":[1,2],"a":1}""")));
        Assert.NotEqual(policy.KeyFor("t", Inputs("""{"a":1}""")), policy.KeyFor("t", Inputs("""{"a":2}""")));
        Assert.NotEqual(policy.KeyFor("t", Inputs("1")), policy.KeyFor("u", Inputs("1")));
        Assert.NotEqual(policy.KeyFor("t", Inputs("1")), (policy with { Version = "2" }).KeyFor("t", Inputs("1")));
        var shared = policy with { Key = "shared" };
        Assert.Equal(shared.KeyFor("t", Inputs("1")), shared.KeyFor("u", Inputs("1")));
    }

    [Fact]
    public void ALateOrForeignAnswer_ChangesNothing()
    {
        var (run, step) = Start(3);
        var check = Assert.Single(step.Messages.OfType<CheckCache>());

        Assert.Equal("stale_check", Apply(run, new CacheChecked(run.RunId, "square", "another key", Json(1))).Dropped?.Kind);
        Apply(run, new CacheChecked(run.RunId, "square", check.Key, null));
        Assert.Equal("stale_check", Apply(run, new CacheChecked(run.RunId, "square", check.Key, Json(1))).Dropped?.Kind);
        Assert.Equal(TaskState.Ready, run.Tasks["square"].State);
    }

    [Fact]
    public void ACheckThatDidNotGoOut_IsSentAgain()
    {
        var (run, step) = Start(3);
        var check = Assert.Single(step.Messages.OfType<CheckCache>());
        Apply(run, new MessagesNotSent([check]));

        var again = Apply(run, ResendUnsent.Instance);

        Assert.Equal(check, Assert.Single(again.Messages.OfType<CheckCache>()));
    }
}

using System.Text.Json;
using Lume.Contracts;
using Lume.Flows;
using Lume.Hosting;
using Lume.Scheduler.Runs;
using Lume.Testing;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using static Lume.Scheduler.Tests.TestFlows;

namespace Lume.Scheduler.Tests.Consumers;

public sealed class SchedulerConsumerTests : IAsyncLifetime
{
    LumeTestHost _host = null!;

    public async Task InitializeAsync()
    {
        _host = await LumeTestHost.StartAsync(builder => builder.AddLumeScheduler());
        var registered = await RegisterAsync("default", ["step", "join"], Diamond, Branches);
        Assert.Empty(registered.Problems);
    }

    async Task<WorkerRegistered> RegisterAsync(string pool, string[] taskTypes, params FlowDefinition[] flows)
    {
        var client = _host.Services.GetRequiredService<IClientFactory>().CreateRequestClient<RegisterWorker>();
        var json = flows.Select(f => JsonSerializer.Deserialize<JsonElement>(FlowJson.Write(f))).ToArray();
        return (await client.GetResponse<WorkerRegistered>(new RegisterWorker($"worker-of-{pool}", pool, taskTypes, json, DateTimeOffset.UtcNow))).Message;
    }

    public async Task DisposeAsync() => await _host.DisposeAsync();

    IRunStore Store => _host.Services.GetRequiredService<IRunStore>();

    async Task<Guid> RequestAsync(string flow, params (string, object?)[] parameters)
    {
        var runId = Guid.NewGuid();
        await _host.Harness.Bus.Publish(new RunRequested(runId, flow, null, Parameters(parameters), DateTimeOffset.UtcNow));
        return runId;
    }

    Task<TaskReady> ReadyAsync(Guid runId, string slug) => _host.SentAsync<TaskReady>(t => t.RunId == runId && t.TaskSlug == slug);

    // The report of the worker that took this TaskReady.
    static TaskCompleted Done(TaskReady ready, object? result) =>
        new(ready.RunId, ready.TaskSlug, ready.Attempt, ready.Token, Json(result), "test-worker", DateTimeOffset.UtcNow, DateTimeOffset.UtcNow);

    // Steps of type "step" side by side, then a "join" of them all.
    static FlowDefinition Wide(string name, int width) => Flow.Define(name, f =>
        f.Task("join", Enumerable.Range(0, width).ToDictionary(i => $"s{i}", object? (i) => f.Task("step", new { value = i }, name: $"s{i}"))));

    [Fact]
    public async Task AFlowPastTheInlineSize_IsRegisteredByClaimCheck_AndRuns()
    {
        // 20,000 tasks: several megabytes of JSON, which a registration's body does not carry.
        var wide = Wide("wide_by_claim_check", 20_000);
        var (inline, claimCheck) = await FlowTransfer.PackAsync(_host.Services.GetRequiredService<IMessageDataRepository>(), [wide, Diamond], CancellationToken.None);
        Assert.Empty(inline);
        Assert.NotNull(claimCheck);

        var client = _host.Services.GetRequiredService<IClientFactory>().CreateRequestClient<RegisterWorker>();
        var answer = await client.GetResponse<WorkerRegistered>(new RegisterWorker("big-worker", "default", ["step", "join"], inline, DateTimeOffset.UtcNow, claimCheck));

        Assert.Empty(answer.Message.Problems);
        var runId = await RequestAsync("wide_by_claim_check");
        var accepted = await _host.PublishedAsync<RunAccepted>(a => a.RunId == runId);
        Assert.Equal(20_001, accepted.TaskCount);
        var stored = await Store.FindAsync(runId, CancellationToken.None);
        Assert.Equal(FlowJson.Write(wide), FlowJson.Write(stored!.Flow));
    }

    [Fact]
    public async Task AFlowRegistrationWhoseClaimCheckIsGone_IsRefused_SayingWhy()
    {
        var big = Wide("big_gone", 20_000);
        var request = await FlowTransfer.RegisterFlowAsync(_host.Services.GetRequiredService<IMessageDataRepository>(), big, "default", CancellationToken.None);
        Assert.NotNull(request.FlowData);
        Directory.Delete(_host.Services.GetRequiredService<Lume.Hosting.MessageDataFolder>().Path, recursive: true);

        var client = _host.Services.GetRequiredService<IClientFactory>().CreateRequestClient<RegisterFlow>();
        var answer = (await client.GetResponse<FlowRegistration>(request)).Message;

        Assert.Contains(answer.Problems, p => p.Contains("claim check", StringComparison.Ordinal) && p.Contains("LUME_MESSAGE_DATA_DIR", StringComparison.Ordinal));
        Assert.Null((await _host.Services.GetRequiredService<Flows.FlowRegistry>().FindAsync("big_gone", null, CancellationToken.None)).Flow);
    }

    [Fact]
    public async Task AFanOutOfATypeSeenToBeQuick_TravelsInBatches_EachTaskOnce_AndTheRunCompletes()
    {
        var fanOut = Wide("wide", 40);
        Assert.Empty((await RegisterAsync("default", ["step", "join"], Diamond, Branches, fanOut)).Problems);
        async Task<IReadOnlyList<TaskReady>> RunAsync(Guid runId)
        {
            await _host.SentAsync<TaskReady>(t => t.RunId == runId && t.TaskSlug == "s39");
            var ready = _host.AllSent<TaskReady>(t => t.RunId == runId && t.TaskSlug != "join");
            foreach (var task in ready)
                await _host.Harness.Bus.Publish(Done(task, task.Inputs["value"].GetInt32()));
            await _host.Harness.Bus.Publish(Done(await ReadyAsync(runId, "join"), "all"));
            return ready;
        }

        var first = Guid.NewGuid();
        await _host.Harness.Bus.Publish(new RunRequested(first, "wide", null, Parameters(), DateTimeOffset.UtcNow));
        Assert.Equal(40, (await RunAsync(first)).Count);
        await _host.PublishedAsync<RunCompleted>(r => r.RunId == first);
        // The first run went one task per message: the type's time was not known yet.
        Assert.Empty(_host.Harness.Sent.Select<TasksReady>(m => m.Context.Message.Tasks.Any(t => t.RunId == first)));

        var second = Guid.NewGuid();
        await _host.Harness.Bus.Publish(new RunRequested(second, "wide", null, Parameters(), DateTimeOffset.UtcNow));
        var released = await RunAsync(second);
        await _host.PublishedAsync<RunCompleted>(r => r.RunId == second);

        Assert.Equal(40, released.Select(t => t.TaskSlug).Distinct().Count());
        Assert.Equal(40, released.Count);
        var batches = _host.Harness.Sent.Select<TasksReady>(m => m.Context.Message.Tasks.Any(t => t.RunId == second)).ToList();
        Assert.NotEmpty(batches);
        Assert.All(batches, b => Assert.InRange(b.Context.Message.Tasks.Count, 2, TaskBatches.MaxTasks));
    }

    [Fact]
    public async Task RunRequested_StoresTheRunAndReleasesItsFirstTask()
    {
        var runId = await RequestAsync("diamond", ("start", 5));

        var accepted = await _host.PublishedAsync<RunAccepted>(r => r.RunId == runId);
        var ready = await ReadyAsync(runId, "a");

        Assert.Equal(4, accepted.TaskCount);
        Assert.Equal(5, ready.Inputs["value"].GetInt32());
        Assert.Equal("step", ready.TaskType);
        Assert.Equal(TaskState.Ready, (await Store.FindAsync(runId, CancellationToken.None))!.Tasks["a"].State);
    }

    [Fact]
    public async Task RunRequested_WithBadParameters_IsRejectedListingEveryProblem_AndStoresNothing()
    {
        var runId = await RequestAsync("diamond", ("begin", 5));

        var failed = await _host.PublishedAsync<RunFailed>(r => r.RunId == runId);

        Assert.Equal(RunFailureKind.Rejected, failed.Kind);
        Assert.Equal(2, failed.Problems.Count);
        Assert.Contains(failed.Problems, p => p.StartsWith("parameter 'start': missing", StringComparison.Ordinal));
        Assert.Contains(failed.Problems, p => p.StartsWith("parameter 'begin': not declared", StringComparison.Ordinal));
        Assert.Null(await Store.FindAsync(runId, CancellationToken.None));
        Assert.Empty(_host.AllSent<TaskReady>(t => t.RunId == runId));
    }

    [Fact]
    public async Task RunRequested_ForAnUnknownFlow_IsRejectedNamingIt()
    {
        var runId = await RequestAsync("nope");

        var failed = await _host.PublishedAsync<RunFailed>(r => r.RunId == runId);

        Assert.Equal(RunFailureKind.Rejected, failed.Kind);
        Assert.Contains("flow 'nope': unknown flow", Assert.Single(failed.Problems), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunRequested_WithoutParametersOrFlow_AsAnotherSystemMightSendIt_IsTakenOrRejectedSayingWhy()
    {
        // No parameters are none: "diamond" needs "start", so the problem is that one, not a crash.
        var noParameters = Guid.NewGuid();
        await _host.Harness.Bus.Publish(new RunRequested(noParameters, "diamond", null, null!, DateTimeOffset.UtcNow));
        var failed = await _host.PublishedAsync<RunFailed>(r => r.RunId == noParameters);
        Assert.Equal(RunFailureKind.Rejected, failed.Kind);
        Assert.StartsWith("parameter 'start': missing", Assert.Single(failed.Problems), StringComparison.Ordinal);

        var noFlow = Guid.NewGuid();
        await _host.Harness.Bus.Publish(new RunRequested(noFlow, null!, null, null!, DateTimeOffset.UtcNow));
        Assert.Equal("flow: the request names no flow", Assert.Single((await _host.PublishedAsync<RunFailed>(r => r.RunId == noFlow)).Problems));
        Assert.Null(await Store.FindAsync(noFlow, CancellationToken.None));
    }

    [Fact]
    public async Task Diamond_WithDuplicateAndOutOfOrderEvents_ReleasesEachTaskOnceAndCompletes()
    {
        var runId = await RequestAsync("diamond", ("start", 1));
        var bus = _host.Harness.Bus;

        var a = await ReadyAsync(runId, "a");
        await bus.Publish(Done(a, 2));
        await bus.Publish(Done(a, 2));
        var b = await ReadyAsync(runId, "b");
        var c = await ReadyAsync(runId, "c");
        await bus.Publish(Done(c, 4));
        await bus.Publish(new TaskStarted(runId, "c", 1, "late", DateTimeOffset.UtcNow));
        await bus.Publish(Done(b, 3));
        await bus.Publish(Done(c, 4));
        var join = await ReadyAsync(runId, "d");
        await bus.Publish(Done(join, 7));
        await bus.Publish(Done(join, 7));

        await _host.PublishedAsync<RunCompleted>(r => r.RunId == runId);
        await _host.Harness.InactivityTask.WaitAsync(TimeSpan.FromSeconds(10)); // let any stray duplicate land before counting
        Assert.Equal(3, join.Inputs["left"].GetInt32());
        Assert.Equal(4, join.Inputs["right"].GetInt32());
        Assert.Equal(["a", "b", "c", "d"], _host.AllSent<TaskReady>(t => t.RunId == runId).Select(t => t.TaskSlug).Order().ToArray());
        Assert.Single(_host.AllPublished<RunCompleted>(r => r.RunId == runId));
        var run = (await Store.FindAsync(runId, CancellationToken.None))!;
        Assert.Equal(RunState.Completed, run.State);
        Assert.All(run.Tasks.Values, t => Assert.Equal(TaskState.Completed, t.State));
    }

    [Fact]
    public async Task TaskFailed_SkipsItsDownstream_AndTheRunFailsNamingTheTask()
    {
        var runId = await RequestAsync("branches");
        var bad = await ReadyAsync(runId, "bad");
        var side = await ReadyAsync(runId, "side");

        await _host.Harness.Bus.Publish(new TaskFailed(runId, "bad", bad.Attempt, bad.Token, "InvalidOperationException", "bad broke", false, "w", DateTimeOffset.UtcNow));
        await _host.Harness.Bus.Publish(Done(side, "ok"));
        var failed = await _host.PublishedAsync<RunFailed>(r => r.RunId == runId);

        Assert.Equal(RunFailureKind.TaskFailed, failed.Kind);
        Assert.Equal("bad", failed.FailedTask);
        var run = (await Store.FindAsync(runId, CancellationToken.None))!;
        Assert.Equal(TaskState.Skipped, run.Tasks["after2"].State);
        Assert.Empty(_host.AllSent<TaskReady>(t => t.RunId == runId && t.TaskSlug.StartsWith("after", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task RegisterWorker_RefusesAFlowUsingTaskTypesTheWorkerLacks_OrServedByAnotherLivePool()
    {
        var needsMore = Flow.Define("needs_more", f => f.Task("step").SetUpstream(f.Task("exotic")));

        var lacking = await RegisterAsync("default", ["step"], needsMore);
        var taken = await RegisterAsync("other", ["step", "join"], Diamond);

        Assert.Contains("unknown task type 'exotic'", Assert.Single(lacking.Problems), StringComparison.Ordinal);
        Assert.Contains("already served by worker pool 'default'", Assert.Single(taken.Problems), StringComparison.Ordinal);
        var runId = await RequestAsync("needs_more");
        Assert.Equal(RunFailureKind.Rejected, (await _host.PublishedAsync<RunFailed>(r => r.RunId == runId)).Kind);
    }

    [Fact]
    public async Task TasksOfAFlow_GoToTheQueueOfThePoolThatRegisteredIt()
    {
        var own = Flow.Define("own", f => f.Task("step"));
        Assert.Empty((await RegisterAsync("gpu", ["step"], own)).Problems);

        var runId = await RequestAsync("own");
        await ReadyAsync(runId, "step");

        var sent = _host.Harness.Sent.Select<TaskReady>(m => m.Context.Message.RunId == runId).Single();
        Assert.EndsWith("/lume-tasks-gpu", sent.Context.DestinationAddress!.AbsolutePath, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ListFlows_AnswersWithTheRegisteredFlows()
    {
        var client = _host.Services.GetRequiredService<IClientFactory>().CreateRequestClient<ListFlows>();

        var flows = (await client.GetResponse<FlowList>(new ListFlows(false))).Message.Flows;

        var diamond = Assert.Single(flows, f => f.Name == "diamond");
        Assert.Equal(["start"], diamond.Parameters.Select(p => p.Name).ToArray());
        Assert.Equal("default", diamond.Pool);
        Assert.True(diamond.PoolAlive);
    }

    [Fact]
    public async Task GetRun_AnswersWithEachTaskInFlowOrder_OrNotFound()
    {
        var runId = await RequestAsync("diamond", ("start", 1));
        await ReadyAsync(runId, "a");
        await _host.Harness.Bus.Publish(new TaskStarted(runId, "a", 1, "worker-1", DateTimeOffset.UtcNow));
        await _host.PublishedAsync<TaskStarted>(t => t.RunId == runId);
        await _host.Harness.InactivityTask.WaitAsync(TimeSpan.FromSeconds(10));
        var client = _host.Services.GetRequiredService<IClientFactory>().CreateRequestClient<GetRun>();

        var found = await client.GetResponse<RunSnapshot, RunNotFound>(new GetRun(runId));
        var missing = await client.GetResponse<RunSnapshot, RunNotFound>(new GetRun(Guid.NewGuid()));
        var state = await client.GetResponse<RunSnapshot, RunNotFound>(new GetRun(runId, StateOnly: true));

        Assert.True(state.Is(out Response<RunSnapshot>? stateOnly));
        Assert.Equal((RunState.Running, runId, "diamond"), (stateOnly.Message.State, stateOnly.Message.RunId, stateOnly.Message.Flow));
        Assert.Empty(stateOnly.Message.Tasks);
        Assert.True(found.Is(out Response<RunSnapshot>? snapshot));
        Assert.Equal(["a", "b", "c", "d"], snapshot.Message.Tasks.Select(t => t.Slug).ToArray());
        Assert.Equal(TaskState.Running, snapshot.Message.Tasks[0].State);
        Assert.Equal("worker-1", snapshot.Message.Tasks[0].Worker);
        Assert.Equal(TaskState.Pending, snapshot.Message.Tasks[3].State);
        Assert.Equal(4, snapshot.Message.TaskCount);
        Assert.True(missing.Is(out Response<RunNotFound>? _));
    }

    [Fact]
    public async Task GetRun_AnswersAPageOfTasks_WithTheRunsTaskCount()
    {
        var runId = await RequestAsync("diamond", ("start", 1));
        await ReadyAsync(runId, "a");
        var client = _host.Services.GetRequiredService<IClientFactory>().CreateRequestClient<GetRun>();

        async Task<RunSnapshot> Page(int offset, int? limit) =>
            (await client.GetResponse<RunSnapshot>(new GetRun(runId, TaskOffset: offset, TaskLimit: limit))).Message;

        var middle = await Page(1, 2);
        var rest = await Page(2, null);
        var beyond = await Page(10, 5);
        var atLeastOne = await Page(-3, 0);

        Assert.Equal(["b", "c"], middle.Tasks.Select(t => t.Slug).ToArray());
        Assert.Equal(4, middle.TaskCount);
        Assert.Equal(["c", "d"], rest.Tasks.Select(t => t.Slug).ToArray());
        Assert.Equal((0, 4), (beyond.Tasks.Count, beyond.TaskCount));
        Assert.Equal(["a"], atLeastOne.Tasks.Select(t => t.Slug).ToArray());
    }

    [Fact]
    public async Task ARepeatedDelivery_DoesNotSendAgainATaskReadyTheBrokerConfirmed()
    {
        var runId = await RequestAsync("diamond", ("start", 1));
        var a = await ReadyAsync(runId, "a");
        await _host.Harness.Bus.Publish(Done(a, 2));
        await ReadyAsync(runId, "b");
        await ReadyAsync(runId, "c");
        await _host.Harness.InactivityTask.WaitAsync(TimeSpan.FromSeconds(10));

        // The same completion delivered again, as after a connection blip: b and c may be on workers already.
        var pipeline = _host.Services.GetRequiredService<RunPipeline>();
        await pipeline.ApplyAsync(_host.Harness.Bus, runId, Done(a, 2), repeated: true, CancellationToken.None);
        await _host.Harness.InactivityTask.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(["a", "b", "c"], _host.AllSent<TaskReady>(t => t.RunId == runId).Select(t => t.TaskSlug).Order().ToArray());
        // The confirmations are known at once, and stored with the run's next change: a's came with b and c's release.
        await _host.Services.GetRequiredService<ActiveRuns>().ApplyAsync(runId, run =>
        {
            Assert.All(run.Tasks.Values.Where(t => t.Attempt > 0), t => Assert.Equal(Outbox.Sent, t.Dispatch));
            return Step.Unchanged;
        });
        Assert.Equal(Outbox.Sent, (await Store.FindAsync(runId, CancellationToken.None))!.Tasks["a"].Dispatch);
    }

    [Fact]
    public async Task RunRequested_Again_WithTheSameRunId_StartsNothingNew_AndSaysItIsAccepted()
    {
        var runId = await RequestAsync("diamond", ("start", 1));
        await ReadyAsync(runId, "a");

        await _host.Harness.Bus.Publish(new RunRequested(runId, "diamond", null, Parameters(("start", 99)), DateTimeOffset.UtcNow));
        await _host.Harness.InactivityTask.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(2, _host.AllPublished<RunAccepted>(r => r.RunId == runId).Count);
        var sent = Assert.Single(_host.AllSent<TaskReady>(t => t.RunId == runId));
        Assert.Equal(1, sent.Inputs["value"].GetInt32());
    }

    [Fact]
    public async Task CancelRun_CancelsTheRun_PublishesRunCancelled_AndAnswersWithTheState()
    {
        var runId = await RequestAsync("diamond", ("start", 1));
        var a = await ReadyAsync(runId, "a");
        var client = _host.Services.GetRequiredService<IClientFactory>().CreateRequestClient<CancelRun>();

        var answer = await client.GetResponse<RunSnapshot, RunNotFound>(new CancelRun(runId, "not needed"));
        await _host.Harness.Bus.Publish(Done(a, 2));
        var unknown = await client.GetResponse<RunSnapshot, RunNotFound>(new CancelRun(Guid.NewGuid(), "?"));
        await _host.Harness.InactivityTask.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.True(answer.Is(out Response<RunSnapshot>? snapshot));
        Assert.Equal(RunState.Cancelled, snapshot.Message.State);
        Assert.Equal("not needed", snapshot.Message.Error);
        Assert.Equal((0, 4), (snapshot.Message.Tasks.Count, snapshot.Message.TaskCount)); // the state, not the tasks
        Assert.Equal("not needed", (await _host.PublishedAsync<RunCancelled>(r => r.RunId == runId)).Reason);
        Assert.Single(_host.AllSent<TaskReady>(t => t.RunId == runId)); // the late completion of a released nothing
        Assert.True(unknown.Is(out Response<RunNotFound>? _));
    }

    [Fact]
    public async Task AFailedAttempt_IsRetriedByTheScheduler_AfterItsDelay()
    {
        var retried = Flow.Define("retried", f => f.Task("step", name: "s").Retry(1, TimeSpan.FromMilliseconds(300)));
        Assert.Empty((await RegisterAsync("default", ["step", "join"], Diamond, Branches, retried)).Problems);
        var runId = await RequestAsync("retried");
        var first = await ReadyAsync(runId, "s");

        await _host.Harness.Bus.Publish(new TaskFailed(runId, "s", 1, first.Token, "IOException", "disk hiccup", true, "w", DateTimeOffset.UtcNow));
        var second = await _host.SentAsync<TaskReady>(t => t.RunId == runId && t.Attempt == 2, TimeSpan.FromSeconds(10));
        await _host.Harness.Bus.Publish(Done(second, "fine"));

        await _host.PublishedAsync<RunCompleted>(r => r.RunId == runId);
        var task = (await Store.FindAsync(runId, CancellationToken.None))!.Tasks["s"];
        Assert.Equal(2, task.Attempt);
        Assert.Equal("disk hiccup", Assert.Single(task.PastAttempts).Error);
        Assert.True(second.ReadyAt - first.ReadyAt >= TimeSpan.FromMilliseconds(250));
    }
}

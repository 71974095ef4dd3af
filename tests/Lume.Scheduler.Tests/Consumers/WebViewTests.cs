using System.Text.Json;
using Lume.Contracts;
using Lume.Flows;
using Lume.Scheduler.Runs;
using FlowGraph = Lume.Contracts.FlowGraph;
using Lume.Testing;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using static Lume.Scheduler.Tests.TestFlows;

namespace Lume.Scheduler.Tests.Consumers;

/// <summary>What the web view asks the Scheduler and hears from it: filtered run lists with task counts, flow graphs, progress.</summary>
public sealed class WebViewTests : IAsyncLifetime
{
    // values feeds a mapped task, whose list the last task sums.
    static readonly FlowDefinition MapSum = Flow.Define("map_sum", f =>
    {
        var squares = f.Map("power", new { x = f.Parameter("values") }, name: "square");
        f.Task("join", new { left = squares }, name: "sum");
    });

    // One task of each kind the graph tells apart: upstreams by output and by set_upstream, mapped, subflow, manual_only.
    static readonly FlowDefinition Shapes = Flow.Define("shapes", f =>
    {
        var values = f.Task("step", name: "values");
        var squares = f.Map("power", new { x = values }, name: "square");
        var child = f.Subflow("diamond", new { start = 1 }, name: "child");
        f.Task("step", new { value = squares }, name: "approve").SetUpstream(child).Trigger(Trigger.ManualOnly);
    });

    LumeTestHost _host = null!;

    public async Task InitializeAsync()
    {
        _host = await LumeTestHost.StartAsync(builder => builder.AddLumeScheduler());
        var client = _host.Services.GetRequiredService<IClientFactory>().CreateRequestClient<RegisterWorker>();
        var json = new[] { Diamond, Branches, MapSum, Shapes }.Select(f => JsonSerializer.Deserialize<JsonElement>(FlowJson.Write(f))).ToArray();
        var registered = await client.GetResponse<WorkerRegistered>(
            new RegisterWorker("worker-of-default", "default", ["step", "join", "power"], json, DateTimeOffset.UtcNow));
        Assert.Empty(registered.Message.Problems);
    }

    public async Task DisposeAsync() => await _host.DisposeAsync();

    async Task<Guid> StartAsync(string flow, params (string, object?)[] parameters)
    {
        var runId = Guid.NewGuid();
        await _host.Harness.Bus.Publish(new RunRequested(runId, flow, null, Parameters(parameters), DateTimeOffset.UtcNow));
        await _host.PublishedAsync<RunAccepted>(r => r.RunId == runId);
        return runId;
    }

    Task<TaskReady> ReadyAsync(Guid runId, string slug) => _host.SentAsync<TaskReady>(t => t.RunId == runId && t.TaskSlug == slug);

    static TaskCompleted Done(TaskReady ready, object? result) =>
        new(ready.RunId, ready.TaskSlug, ready.Attempt, ready.Token, Json(result), "test-worker", DateTimeOffset.UtcNow, DateTimeOffset.UtcNow);

    static TaskFailed Broke(TaskReady ready) =>
        new(ready.RunId, ready.TaskSlug, ready.Attempt, ready.Token, "InvalidOperationException", $"{ready.TaskSlug} broke", false, "test-worker", DateTimeOffset.UtcNow);

    async Task<IReadOnlyList<RunListEntry>> ListAsync(ListRuns request) =>
        (await _host.Services.GetRequiredService<IClientFactory>().CreateRequestClient<ListRuns>().GetResponse<RunList>(request)).Message.Runs;

    // A diamond whose first task failed (the rest skipped), then a diamond and a branches run left running, newest last.
    async Task<(Guid Failed, Guid Running, Guid Other)> ThreeRunsAsync()
    {
        var failed = await StartAsync("diamond", ("start", 1));
        await _host.Harness.Bus.Publish(Broke(await ReadyAsync(failed, "a")));
        await _host.PublishedAsync<RunFailed>(r => r.RunId == failed);
        var running = await StartAsync("diamond", ("start", 2));
        var other = await StartAsync("branches");
        return (failed, running, other);
    }

    [Fact]
    public async Task ListRuns_ByFlow_FindsItsRuns_PastNewerRunsOfOtherFlows()
    {
        var (failed, running, _) = await ThreeRunsAsync();

        // The newest run is of another flow: a limit of one must still find one of this flow's.
        Assert.Equal([running], (await ListAsync(new ListRuns(1, Flow: "diamond"))).Select(r => r.RunId));
        Assert.Equal([running, failed], (await ListAsync(new ListRuns(10, Flow: "diamond"))).Select(r => r.RunId));
        Assert.Empty(await ListAsync(new ListRuns(10, Flow: "no_such_flow")));
    }

    [Fact]
    public async Task ListRuns_ByState_FindsItsRuns_PastNewerRunsInOtherStates()
    {
        var (failed, running, other) = await ThreeRunsAsync();

        Assert.Equal([failed], (await ListAsync(new ListRuns(1, State: RunState.Failed))).Select(r => r.RunId));
        Assert.Equal([other, running], (await ListAsync(new ListRuns(10, State: RunState.Running))).Select(r => r.RunId));
        Assert.Equal(3, (await ListAsync(new ListRuns(10))).Count);
    }

    [Fact]
    public async Task ListRuns_ByFlowAndState_FindsOnlyRunsOfBoth()
    {
        var (_, running, _) = await ThreeRunsAsync();

        Assert.Equal([running], (await ListAsync(new ListRuns(1, "diamond", RunState.Running))).Select(r => r.RunId));
        Assert.Empty(await ListAsync(new ListRuns(10, "branches", RunState.Failed)));
    }

    [Fact]
    public async Task ListRuns_CountsTheTasksOfEachRunByState_PendingOnesToo()
    {
        var (failed, running, other) = await ThreeRunsAsync();

        var runs = (await ListAsync(new ListRuns(10))).ToDictionary(r => r.RunId);

        Assert.Equal(new Dictionary<string, int> { ["failed"] = 1, ["skipped"] = 3 }, runs[failed].TaskCounts);
        // Tasks not yet released have no row in the store until they change: they are counted all the same.
        Assert.Equal(new Dictionary<string, int> { ["ready"] = 1, ["pending"] = 3 }, runs[running].TaskCounts);
        Assert.Equal(new Dictionary<string, int> { ["ready"] = 2, ["pending"] = 2 }, runs[other].TaskCounts);
    }

    [Fact]
    public async Task ListRuns_CountsAMappedTasksChildren()
    {
        var runId = await StartAsync("map_sum", ("values", new[] { 1, 2, 3 }));
        var children = await Task.WhenAll(Enumerable.Range(0, 3).Select(i => ReadyAsync(runId, $"square[{i}]")));

        Assert.Equal(new Dictionary<string, int> { ["mapped"] = 1, ["ready"] = 3, ["pending"] = 1 },
            (await ListAsync(new ListRuns(1, "map_sum"))).Single().TaskCounts);

        foreach (var child in children)
            await _host.Harness.Bus.Publish(Done(child, 1));
        await _host.Harness.Bus.Publish(Done(await ReadyAsync(runId, "sum"), 3));
        await _host.PublishedAsync<RunCompleted>(r => r.RunId == runId);

        // The mapped task and its three children, and the sum.
        Assert.Equal(new Dictionary<string, int> { ["completed"] = 5 }, (await ListAsync(new ListRuns(1, "map_sum"))).Single().TaskCounts);
    }

    async Task<Response<FlowGraph, FlowNotFound>> GraphAsync(string flow, string version) =>
        await _host.Services.GetRequiredService<IClientFactory>().CreateRequestClient<GetFlowGraph>()
            .GetResponse<FlowGraph, FlowNotFound>(new GetFlowGraph(flow, version));

    [Fact]
    public async Task GetFlowGraph_AnswersWithEachTaskInFlowOrder_WhatItWaitsFor_AndHowItRuns()
    {
        var answer = await GraphAsync("shapes", Shapes.Version);

        Assert.True(answer.Is(out Response<FlowGraph>? graph));
        Assert.Equal(("shapes", Shapes.Version), (graph.Message.Flow, graph.Message.Version));
        var tasks = graph.Message.Tasks;
        Assert.Equal(["values", "square", "child", "approve"], tasks.Select(t => t.Slug));
        Assert.Equal(new FlowGraphTask("values", "step", [], false, null, "all_successful"), tasks[0] with { Upstream = [] });
        Assert.Empty(tasks[0].Upstream);
        Assert.Equal(["values"], tasks[1].Upstream);
        Assert.True(tasks[1].Mapped);
        Assert.Equal("power", tasks[1].Type);
        Assert.Equal(("subflow", "diamond", false), (tasks[2].Type, tasks[2].Subflow, tasks[2].Mapped));
        Assert.Equal(["child", "square"], tasks[3].Upstream.Order(StringComparer.Ordinal));
        Assert.Equal("manual_only", tasks[3].Trigger);
        Assert.Null(tasks[3].Subflow);
    }

    [Fact]
    public async Task GetFlowGraph_OfAnUnknownVersion_IsFlowNotFound_NamingIt()
    {
        var answer = await GraphAsync("diamond", "no-such-version");

        Assert.True(answer.Is(out Response<FlowNotFound>? notFound));
        Assert.Equal(("diamond", "no-such-version"), (notFound.Message.Flow, notFound.Message.Version));
        Assert.Contains("diamond", notFound.Message.Problem, StringComparison.Ordinal);
        Assert.Contains("no-such-version", notFound.Message.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunsProgressed_ListsEveryRunGoingOnForAWhile_InOneMessage_AndNotOnceItEnded()
    {
        var runId = await StartAsync("diamond", ("start", 1));
        var other = await StartAsync("diamond", ("start", 5));
        var a = await ReadyAsync(runId, "a");
        var otherA = await ReadyAsync(other, "a");
        await Task.Delay(RunProgressPublisher.MinimumAge + TimeSpan.FromMilliseconds(200));

        await _host.Harness.Bus.Publish(Done(a, 2));
        await _host.Harness.Bus.Publish(Done(otherA, 6));
        var progressed = await _host.PublishedAsync<RunsProgressed>(p => p.Runs.Any(r => r.RunId == runId) && p.Runs.Any(r => r.RunId == other),
            TimeSpan.FromSeconds(5));

        Assert.Equal("diamond", progressed.Runs.Single(r => r.RunId == runId).Flow);
        var cancel = _host.Services.GetRequiredService<IClientFactory>().CreateRequestClient<CancelRun>();
        await cancel.GetResponse<RunSnapshot, RunNotFound>(new CancelRun(runId, "heard it"));
        await _host.PublishedAsync<RunCancelled>(r => r.RunId == runId);
        var heard = Told(runId);
        await Task.Delay(RunProgressPublisher.Period * 2.5);
        Assert.Equal(heard, Told(runId));
    }

    [Fact]
    public async Task RunsProgressed_NeverListsAShortRun()
    {
        var runId = await StartAsync("diamond", ("start", 1));
        await _host.Harness.Bus.Publish(Done(await ReadyAsync(runId, "a"), 2));
        await _host.Harness.Bus.Publish(Done(await ReadyAsync(runId, "b"), 3));
        await _host.Harness.Bus.Publish(Done(await ReadyAsync(runId, "c"), 3));
        await _host.Harness.Bus.Publish(Done(await ReadyAsync(runId, "d"), 6));
        await _host.PublishedAsync<RunCompleted>(r => r.RunId == runId);

        await Task.Delay(RunProgressPublisher.Period * 2.5);

        Assert.Equal(0, Told(runId));
    }

    // How many RunsProgressed so far listed the run.
    int Told(Guid runId) => _host.AllPublished<RunsProgressed>(p => p.Runs.Any(r => r.RunId == runId)).Count;
}

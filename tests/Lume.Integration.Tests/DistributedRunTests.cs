using Lume.Testing;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lume.Cli;
using Lume.Contracts;
using Xunit.Abstractions;

namespace Lume.Integration.Tests;

[CollectionDefinition("RabbitMQ", DisableParallelization = true)]
public sealed class RabbitMqCollection;

/// <summary>The services as separate processes on a real RabbitMQ, started by scripts/rabbitmq.</summary>
[Collection("RabbitMQ")]
public sealed class DistributedRunTests(ITestOutputHelper output) : ClusterTest(output)
{
    static readonly TimeSpan Patience = TimeSpan.FromMinutes(3);

    static readonly Dictionary<string, JsonElement> Flow1Parameters =
        Parameters(("text1", "Hello"), ("text2", "World"), ("filename", "hello.txt"), ("filesystem_identifier", "local"));

    sealed class Events : IRunObserver
    {
        public ConcurrentQueue<TaskStarted> Started { get; } = new();

        public ConcurrentQueue<TaskCompleted> Completed { get; } = new();

        public Action<TaskStarted>? OnStarted { get; set; }

        public void TaskStarted(TaskStarted message)
        {
            Started.Enqueue(message);
            OnStarted?.Invoke(message);
        }

        public Action<TaskCompleted>? OnCompleted { get; set; }

        public void TaskCompleted(TaskCompleted message)
        {
            Completed.Enqueue(message);
            OnCompleted?.Invoke(message);
        }
    }

    static JsonObject WithoutRunId(RunSnapshot snapshot)
    {
        var json = RunReport.ToJson(snapshot);
        json.Remove("run_id");
        return json;
    }

    [Fact]
    public async Task AClientWaitingForManyRuns_ListensOnOneQueue_AndEachRunHearsItsOwnEnd()
    {
        await Cluster.StartSchedulerAsync();
        await Cluster.StartFileServiceAsync();
        await Cluster.StartWorkerAsync("worker-1", ("LUME_WORKER__CONCURRENCY", "8"));
        var client = await Cluster.ClientAsync();
        var before = await Broker.QueuesAsync(Cluster.VirtualHost);

        // Side by side, each saving its own text for 2 s: the queues are counted while all of them wait.
        var runs = Enumerable.Range(0, 6).Select(i => client.RunAsync("slow_save", null,
            Parameters(("text", $"run-{i}"), ("filename", $"many-{i}.txt"), ("seconds", 2.0))).WaitAsync(Patience)).ToArray();
        await Task.Delay(TimeSpan.FromSeconds(1));
        var during = await Broker.QueuesAsync(Cluster.VirtualHost);
        var outcomes = await Task.WhenAll(runs);

        for (var i = 0; i < outcomes.Length; i++)
        {
            // An end heard by the wrong run would end its wait early, with its own run still going.
            Assert.True(outcomes[i].Succeeded, outcomes[i].Failure?.Message);
            Assert.Equal(RunState.Completed, outcomes[i].Snapshot!.State);
            Assert.Equal($"run-{i}", await File.ReadAllTextAsync(Path.Combine(Cluster.FilesRoot, $"many-{i}.txt")));
        }

        // One queue for every run this client waits for; a queue per run cost the broker a queue and its bindings each.
        Assert.True(during.Except(before).Count() <= 1, $"queues made by the client: {string.Join(", ", during.Except(before))}");
    }

    [Fact]
    public async Task Flow1_RunsAcrossProcesses_AndGivesTheSameJsonAsTheEmbeddedRun()
    {
        await Cluster.StartSchedulerAsync();
        await Cluster.StartFileServiceAsync();
        await Cluster.StartWorkerAsync("worker-1");
        var client = await Cluster.ClientAsync();

        var outcome = await client.RunAsync("flow1", null, Flow1Parameters).WaitAsync(Patience);

        Assert.True(outcome.Succeeded, outcome.Failure?.Message);
        Assert.Equal("HelloWorld", await File.ReadAllTextAsync(Path.Combine(Cluster.FilesRoot, "hello.txt")));
        Assert.All(outcome.Snapshot!.Tasks, t => Assert.Equal("worker-1", t.Worker));

        var embeddedDir = Path.Combine(Cluster.Root, "embedded");
        using var embedded = LumeHost.Build(new Dictionary<string, string?> { ["DATA_DIR"] = embeddedDir });
        await embedded.StartAsync(CancellationToken.None);
        var local = await embedded.Client.RunAsync("flow1", null, Flow1Parameters);
        await embedded.StopAsync();

        var distributedJson = WithoutRunId(outcome.Snapshot!);
        var configure = (JsonObject)distributedJson["tasks"]!["configure_lume_services"]!;
        // The one legitimate difference: the distributed worker has LUME_BROKER set, and says so.
        Assert.Contains("LUME_BROKER", configure["result"]!["configured"]!.AsArray().Select(v => v!.GetValue<string>()));
        configure["result"] = JsonNode.Parse("""{"configured":["LUME_DATA_DIR"]}""");
        var embeddedJson = WithoutRunId(local.Snapshot!);
        embeddedJson["tasks"]!["configure_lume_services"]!["result"] = JsonNode.Parse("""{"configured":["LUME_DATA_DIR"]}""");
        Assert.Equal(embeddedJson.ToJsonString(), distributedJson.ToJsonString());
    }

    [Fact]
    public async Task Flow1ThenFlow2ThenCheck_ChainAcrossProcesses_ThroughTheResultsService()
    {
        await Cluster.StartSchedulerAsync();
        await Cluster.StartFileServiceAsync();
        await Cluster.StartResultsAsync();
        await Cluster.StartWorkerAsync("worker-1");
        var client = await Cluster.ClientAsync();

        var first = await client.RunAsync("flow1", null, Flow1Parameters).WaitAsync(Patience);
        var fileRep = first.Snapshot!.Tasks.Single(t => t.Slug == "save_text_file").Result!.Value;
        var second = await client.RunAsync("flow2", null, new Dictionary<string, JsonElement> { ["file_rep"] = fileRep }).WaitAsync(Patience);
        Assert.True(second.Succeeded, second.Failure?.Message);
        var resultRep = second.Snapshot!.Tasks.Single(t => t.Slug == "save_db_result").Result!.Value;
        var check = await client.RunAsync("check_result", null, new Dictionary<string, JsonElement>
        {
            ["result_rep"] = resultRep,
            ["expected"] = JsonSerializer.SerializeToElement("HelloWorld"),
        }).WaitAsync(Patience);

        Assert.True(check.Succeeded, check.Failure?.Message);
        Assert.True(check.Snapshot!.Tasks.Single(t => t.Slug == "check_text_equivalence").Result!.Value.GetBoolean());
        Assert.True(File.Exists(Path.Combine(Cluster.Root, "results", "results.db")), "the Results service process did not store the result");
    }

    [Fact]
    public async Task FanOutOf500_AcrossThreeWorkers_RunsEachTaskOnce_OnMoreThanOneWorker()
    {
        await Cluster.StartSchedulerAsync();
        await Cluster.StartFileServiceAsync();
        for (var i = 1; i <= 3; i++)
            await Cluster.StartWorkerAsync($"worker-{i}");
        var client = await Cluster.ClientAsync();
        var events = new Events();

        var outcome = await client.RunAsync("fanout_500", null, Parameters(), events).WaitAsync(Patience);

        Assert.True(outcome.Succeeded, outcome.Failure?.Message);
        var tasks = outcome.Snapshot!.Tasks;
        Assert.Equal(501, tasks.Count);
        // A step whose release the Scheduler could not tell went out is sent again as a copy, claimed, and replaced by a
        // new attempt: the one before it is "lost", never run; no step failed or ran twice.
        Assert.All(tasks, t => Assert.Equal(TaskState.Completed, t.State));
        Assert.All(tasks, t => Assert.All(t.PastAttempts!, a => Assert.Equal(AttemptOutcome.Lost, a.Outcome)));
        var gather = tasks.Single(t => t.Slug == "gather").Result!.Value;
        Assert.Equal(500, gather.GetProperty("count").GetInt32());
        Assert.Equal(125250, gather.GetProperty("sum").GetDouble());
        var workers = tasks.Where(t => t.Slug != "gather").GroupBy(t => t.Worker).ToDictionary(g => g.Key!, g => g.Count());
        Output.WriteLine($"tasks per worker: {string.Join(", ", workers.Select(w => $"{w.Key}={w.Value}"))}");
        Assert.True(workers.Count > 1, "only one worker did any work");
        // Without a crash every task ran once: one TaskCompleted each, none repeated.
        Assert.Equal(501, events.Completed.Count);
        Assert.Equal(501, events.Completed.Select(c => c.TaskSlug).Distinct().Count());
    }

    [Fact]
    public async Task WorkerKilledMidTask_ThenTheSchedulerKilledBeforeItNoticed_TheRestartedOneReplacesTheAttempt_AndTheFileExistsOnce()
    {
        (string, string) timeout = ("LUME_SCHEDULER__WORKER_TIMEOUT_SECONDS", "10");
        var scheduler = await Cluster.StartSchedulerAsync(timeout);
        await Cluster.StartFileServiceAsync();
        var workers = new Dictionary<string, ServiceProcess>
        {
            ["worker-a"] = await Cluster.StartWorkerAsync("worker-a"),
            ["worker-b"] = await Cluster.StartWorkerAsync("worker-b"),
        };
        var client = await Cluster.ClientAsync();
        var killed = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var events = new Events { OnStarted = started => killed.TrySetResult(started.Worker) };

        var run = client.RunAsync("slow_save", null, Parameters(("text", "once"), ("filename", "out/once.txt"), ("seconds", 15.0)), events);
        var victim = await killed.Task.WaitAsync(Patience);
        await Task.Delay(TimeSpan.FromSeconds(6)); // a heartbeat (every 5 s) lists the attempt as held by the victim
        await workers[victim].KillAsync();
        // The broker gives the attempt to the other worker, which claims it; the Scheduler has heard the victim list it
        // lately, so it waits for it to report or to go silent. It is killed before it could see the silence.
        var other = workers.Single(w => w.Key != victim).Value;
        for (var i = 0; i < 100 && !other.Output.Contains("claimed, not run", StringComparison.Ordinal); i++)
            await Task.Delay(100);
        Assert.Contains("claimed, not run", other.Output, StringComparison.Ordinal);
        await Task.Delay(TimeSpan.FromSeconds(1));
        await scheduler.KillAsync();
        await Cluster.StartSchedulerAsync(timeout);
        var outcome = await run.WaitAsync(Patience);

        Assert.True(outcome.Succeeded, outcome.Failure?.Message);
        var task = Assert.Single(outcome.Snapshot!.Tasks);
        Assert.Equal((2, "worker-a" == victim ? "worker-b" : "worker-a"), (task.Attempt, task.Worker));
        Assert.Equal((AttemptOutcome.Lost, 1), (task.PastAttempts![0].Outcome, task.PastAttempts.Count));
        Assert.Equal(["once.txt"], Directory.GetFiles(Path.Combine(Cluster.FilesRoot, "out")).Select(f => Path.GetFileName(f)!).ToArray());
    }

    [Fact]
    public async Task WorkerKilledMidTask_AnotherWorkerFinishesIt_AndTheFileExistsOnceIntact()
    {
        await Cluster.StartSchedulerAsync();
        await Cluster.StartFileServiceAsync();
        var workers = new Dictionary<string, ServiceProcess>
        {
            ["worker-a"] = await Cluster.StartWorkerAsync("worker-a"),
            ["worker-b"] = await Cluster.StartWorkerAsync("worker-b"),
        };
        var client = await Cluster.ClientAsync();
        var text = string.Concat(Enumerable.Repeat("intact line of text\n", 5000));
        var killed = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var events = new Events { OnStarted = started => killed.TrySetResult(started.Worker) };

        var run = client.RunAsync("slow_save", null, Parameters(("text", text), ("filename", "out/slow.txt"), ("seconds", 3.0)), events);
        var victim = await killed.Task.WaitAsync(Patience);
        await workers[victim].KillAsync();
        var outcome = await run.WaitAsync(Patience);

        Assert.True(outcome.Succeeded, outcome.Failure?.Message);
        var task = Assert.Single(outcome.Snapshot!.Tasks);
        Assert.NotEqual(victim, task.Worker);
        // The broker delivered the killed worker's attempt again; the copy was not run, the attempt was replaced.
        Assert.Equal(2, task.Attempt);
        var lost = Assert.Single(task.PastAttempts!);
        Assert.Equal((AttemptOutcome.Lost, victim), (lost.Outcome, lost.Worker));
        Assert.Equal(["slow.txt"], Directory.GetFiles(Path.Combine(Cluster.FilesRoot, "out")).Select(f => Path.GetFileName(f)!).ToArray());
        Assert.Equal(text, await File.ReadAllTextAsync(Path.Combine(Cluster.FilesRoot, "out", "slow.txt")));
        Assert.Contains(events.Started, s => s.Worker != victim);
    }

    [Fact]
    public async Task SchedulerKilledAndRestartedMidChain_TheRunCompletes_WithEveryTaskDoneOnce()
    {
        var scheduler = await Cluster.StartSchedulerAsync();
        await Cluster.StartFileServiceAsync();
        await Cluster.StartWorkerAsync("worker-1");
        var client = await Cluster.ClientAsync();
        var halfway = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var events = new Events { OnCompleted = completed => { if (completed.TaskSlug == "step-60") halfway.TrySetResult(); } };

        var run = client.RunAsync("chain_200", null, Parameters(), events);
        await halfway.Task.WaitAsync(Patience);
        await scheduler.KillAsync();
        var clock = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(1));
        await Cluster.StartSchedulerAsync();
        var outcome = await run.WaitAsync(Patience);
        Output.WriteLine($"the run finished {clock.Elapsed.TotalSeconds:0.0} s after the Scheduler was killed");

        Assert.True(outcome.Succeeded, outcome.Failure?.Message);
        var tasks = outcome.Snapshot!.Tasks;
        Assert.Equal(200, tasks.Count);
        // A step whose release the Scheduler could not tell went out is sent again as a copy, claimed, and replaced by a
        // new attempt: the one before it is "lost", never run; no step failed or ran twice.
        Assert.All(tasks, t => Assert.Equal(TaskState.Completed, t.State));
        Assert.All(tasks, t => Assert.All(t.PastAttempts!, a => Assert.Equal(AttemptOutcome.Lost, a.Outcome)));
        Assert.Equal(200, tasks.Single(t => t.Slug == "step-200").Result!.Value.GetInt32());
        for (var i = 0; i < tasks.Count; i++)
            Assert.Equal(i + 1, tasks[i].Result!.Value.GetInt32());
    }

    [Fact]
    public async Task UsersOwnWorker_RunsItsFlowInItsPool_BesideTheStockWorkers()
    {
        await Cluster.StartSchedulerAsync();
        await Cluster.StartFileServiceAsync();
        await Cluster.StartWorkerAsync("stock-1");
        await Cluster.StartMyWorkerAsync("mine-1");
        var client = await Cluster.ClientAsync();

        var shout = await client.RunAsync("shout", null, Parameters(("text", "hello"), ("filename", "shout.txt"))).WaitAsync(Patience);
        var flow1 = await client.RunAsync("flow1", null, Flow1Parameters).WaitAsync(Patience);

        Assert.True(shout.Succeeded, shout.Failure?.Message);
        Assert.All(shout.Snapshot!.Tasks, t => Assert.Equal("mine-1", t.Worker));
        Assert.Equal("HELLO!", await File.ReadAllTextAsync(Path.Combine(Cluster.FilesRoot, "shout.txt")));
        Assert.True(flow1.Succeeded, flow1.Failure?.Message);
        Assert.All(flow1.Snapshot!.Tasks, t => Assert.Equal("stock-1", t.Worker));
        var pools = (await client.FlowsAsync()).ToDictionary(f => f.Name, f => f.Pool);
        Assert.Equal("shouting", pools["shout"]);
        Assert.Equal("default", pools["flow1"]);
    }

    async Task<(int ExitCode, string Stdout, string Stderr)> LumeAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "lume.dll"));
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        start.Environment["LUME_BROKER"] = Cluster.BrokerUrl;
        start.Environment["LUME_DATA_DIR"] = Path.Combine(Cluster.Root, "cli");
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync(new CancellationTokenSource(Patience).Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    [Fact]
    public async Task AManualOnlyTask_WaitsPaused_UntilLumeRunsApproveReleasesIt()
    {
        await Cluster.StartSchedulerAsync();
        await Cluster.StartWorkerAsync("worker-1");

        var (exit, stdout, stderr) = await LumeAsync("run", "approval", "--no-wait");
        Assert.True(exit == 0, stderr);
        var runId = stdout.Trim();
        var paused = await ShowUntilAsync(runId, run => run.GetProperty("tasks").GetProperty("publish").GetProperty("state").GetString() == "paused");
        Assert.Equal("running", paused.GetProperty("state").GetString());
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Equal("paused", (await ShowUntilAsync(runId, _ => true)).GetProperty("tasks").GetProperty("publish").GetProperty("state").GetString());

        var (wrongExit, _, wrongErr) = await LumeAsync("runs", "approve", runId, "prepare");
        Assert.Equal(2, wrongExit);
        Assert.Contains("task 'prepare' is completed, not waiting for approval", wrongErr, StringComparison.Ordinal);
        var (approveExit, approveOut, approveErr) = await LumeAsync("runs", "approve", runId, "publish");
        Assert.True(approveExit == 0, approveErr);
        Assert.Contains("task 'publish' released", approveOut, StringComparison.Ordinal);

        var done = await ShowUntilAsync(runId, run => run.GetProperty("state").GetString() != "running");
        Assert.Equal("completed", done.GetProperty("state").GetString());
        Assert.Equal(42, done.GetProperty("tasks").GetProperty("publish").GetProperty("result").GetInt32());
    }

    [Fact]
    public async Task ABranchOnCheckLocalExecution_OnABroker_RunsTheRemoteBranch_AndTheMergeTakesItsResult()
    {
        await Cluster.StartSchedulerAsync();
        await Cluster.StartWorkerAsync("worker-1");
        var client = await Cluster.ClientAsync();

        var outcome = await client.RunAsync("branch", null, Parameters(("text", "model"))).WaitAsync(Patience);

        Assert.True(outcome.Succeeded, outcome.Failure?.Message);
        var tasks = outcome.Snapshot!.Tasks.ToDictionary(t => t.Slug);
        Assert.False(tasks["check_local_execution"].Result!.Value.GetBoolean());
        Assert.Equal((TaskState.Skipped, TaskState.Completed), (tasks["keep_local"].State, tasks["send_remote"].State));
        Assert.Equal("model sent to the workers", tasks["where"].Result!.Value.GetString());
        Assert.Null(tasks["where"].Worker); // the Scheduler merged it itself
    }

    [Fact]
    public async Task MapSquare_OnABroker_SpreadsItsChildrenOverTheWorkers_AndSumsThemInOrder()
    {
        await Cluster.StartSchedulerAsync();
        await Cluster.StartWorkerAsync("worker-1");
        await Cluster.StartWorkerAsync("worker-2");
        var client = await Cluster.ClientAsync();
        var values = Enumerable.Range(1, 200).Select(i => i % 13 - 6).ToArray();

        var outcome = await client.RunAsync("map_square", null, new Dictionary<string, JsonElement> { ["values"] = JsonSerializer.SerializeToElement(values) })
            .WaitAsync(Patience);
        var empty = await client.RunAsync("map_square", null, new Dictionary<string, JsonElement> { ["values"] = JsonSerializer.SerializeToElement(Array.Empty<int>()) })
            .WaitAsync(Patience);

        Assert.True(outcome.Succeeded, outcome.Failure?.Message);
        var tasks = outcome.Snapshot!.Tasks.ToDictionary(t => t.Slug);
        Assert.Equal(values.Length + 2, tasks.Count);
        Assert.Equal(values.Select(v => v * v), tasks["square"].Result!.Value.EnumerateArray().Select(r => r.GetInt32()));
        Assert.Equal(values.Sum(v => v * v), tasks["sum"].Result!.Value.GetInt32());
        Assert.Equal(["worker-1", "worker-2"], tasks.Values.Where(t => t.Slug.StartsWith("square[", StringComparison.Ordinal)).Select(t => t.Worker).Distinct().Order());
        Assert.True(empty.Succeeded, empty.Failure?.Message);
        Assert.Equal(0, empty.Snapshot!.Tasks.Single(t => t.Slug == "sum").Result!.Value.GetInt32());
    }

    [Fact]
    public async Task TheSubflowAndCleanupExamples_OnABroker_EndAsEmbeddedTheyDo()
    {
        await Cluster.StartSchedulerAsync();
        await Cluster.StartWorkerAsync("worker-1");
        var client = await Cluster.ClientAsync();
        int[] values = [3, 4];

        var subflow = await client.RunAsync("subflow", null, new Dictionary<string, JsonElement> { ["values"] = JsonSerializer.SerializeToElement(values) })
            .WaitAsync(Patience);
        var cleanup = await client.RunAsync("cleanup_after_failure", null, Parameters(("run_name", "broker"))).WaitAsync(Patience);

        Assert.True(subflow.Succeeded, subflow.Failure?.Message);
        var squares = subflow.Snapshot!.Tasks.Single(t => t.Slug == "squares");
        Assert.Equal(values.Sum(v => v * v), squares.Result!.Value.GetInt32());
        var child = (await client.GetAsync(squares.SubflowRunId!.Value))!;
        Assert.Equal(("map_square", RunState.Completed, subflow.RunId), (child.Flow, child.State, child.ParentRunId!.Value));
        Assert.Equal(RunState.Failed, cleanup.Snapshot!.State);
        var tasks = cleanup.Snapshot.Tasks.ToDictionary(t => t.Slug);
        Assert.Equal((TaskState.Failed, TaskState.Completed, TaskState.Completed), (tasks["simulate"].State, tasks["cleanup"].State, tasks["notify"].State));
        Assert.Equal("model run failed: broker", tasks["notify"].Result!.Value.GetString());
    }

    [Fact]
    public async Task FlowsCompose_OnABroker_RegistersTextChain_AndItsRunChecksTheStoredText()
    {
        await Cluster.StartSchedulerAsync();
        await Cluster.StartFileServiceAsync();
        await Cluster.StartResultsAsync();
        await Cluster.StartWorkerAsync("worker-1");
        var client = await Cluster.ClientAsync();
        var (exit, stdout, stderr) = await LumeAsync("flows", "compose", Path.Combine(Broker.RepositoryRoot, "examples", "flows", "text_chain.yaml"));
        var outcome = await client.RunAsync("text_chain", null, Parameters(("flow1-text1", "over "), ("flow1-text2", "the broker"),
            ("flow1-filename", "chain.txt"), ("flow1-filesystem_identifier", "local"))).WaitAsync(Patience);

        Assert.True(exit == 0, stderr + stdout);
        Assert.True(outcome.Succeeded, outcome.Failure?.Message);
        var tasks = outcome.Snapshot!.Tasks.ToDictionary(t => t.Slug);
        Assert.Equal("over the broker", tasks["check_result-expected-load"].Result!.Value.GetString());
        Assert.True(tasks["check_result"].Result!.Value.GetProperty("check_text_equivalence").GetBoolean());
        Assert.Equal("over the broker", await File.ReadAllTextAsync(Path.Combine(Cluster.FilesRoot, "chain.txt")));
        var child = await client.GetAsync(tasks["flow2"].SubflowRunId!.Value);
        Assert.Equal((outcome.RunId, "flow2"), (child!.ParentRunId!.Value, child.ParentTask));
    }

    async Task<JsonElement> ShowUntilAsync(string runId, Func<JsonElement, bool> done)
    {
        JsonElement shown = default;
        for (var attempt = 0; attempt < 120; attempt++)
        {
            var (exit, json, errors) = await LumeAsync("runs", "show", runId, "--json");
            Assert.True(exit == 0, errors);
            shown = JsonSerializer.Deserialize<JsonElement>(json);
            if (done(shown))
                return shown;
            await Task.Delay(500);
        }

        return shown;
    }

    [Fact]
    public async Task Cli_NoWait_PrintsTheRunId_AndRunsShowFollowsTheRunToItsEnd()
    {
        await Cluster.StartSchedulerAsync();
        await Cluster.StartFileServiceAsync();
        await Cluster.StartWorkerAsync("worker-1");

        var (exit, stdout, stderr) = await LumeAsync("run", "chain_200", "--no-wait");
        Assert.True(exit == 0, stderr);
        var runId = Guid.Parse(stdout.Trim());

        JsonElement shown = default;
        for (var attempt = 0; attempt < 120; attempt++)
        {
            var (showExit, json, showErrors) = await LumeAsync("runs", "show", runId.ToString(), "--json");
            Assert.True(showExit == 0, showErrors);
            shown = JsonSerializer.Deserialize<JsonElement>(json);
            if (shown.GetProperty("state").GetString() != "running")
                break;
            await Task.Delay(500);
        }

        Assert.Equal("completed", shown.GetProperty("state").GetString());
        Assert.Equal(200, shown.GetProperty("tasks").GetProperty("step-200").GetProperty("result").GetInt32());
        var (_, listed, _) = await LumeAsync("runs", "--json");
        Assert.Contains(runId.ToString(), listed, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunOfAFlowWhosePoolHasNoLiveWorker_IsRejectedSayingSo()
    {
        await Cluster.StartSchedulerAsync(("LUME_SCHEDULER__WORKER_TIMEOUT_SECONDS", "2"));
        var worker = await Cluster.StartWorkerAsync("worker-1", ("LUME_WORKER__HEARTBEAT_SECONDS", "1"));
        var client = await Cluster.ClientAsync();
        await worker.KillAsync();
        await Task.Delay(TimeSpan.FromSeconds(3));

        var outcome = await client.RunAsync("flow3", null, Parameters(("text1", "a"), ("text2", "a"))).WaitAsync(Patience);

        Assert.True(outcome.Rejected);
        Assert.Contains(outcome.Failure!.Problems, p => p.Contains("no worker of pool 'default' is running", StringComparison.Ordinal));
    }
}

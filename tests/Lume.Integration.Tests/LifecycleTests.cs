using Lume.Contracts;
using System.Text.Json;
using Lume.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Lume.Integration.Tests;

/// <summary>Runs that outlive a failing service, each service its own process on a real RabbitMQ.</summary>
[Collection("RabbitMQ")]
public sealed class LifecycleTests(ITestOutputHelper output) : ClusterTest(output)
{
    static readonly TimeSpan Patience = TimeSpan.FromMinutes(4);

    [Fact]
    public async Task AResultsOutageOf60Seconds_DelaysFlow2_AndDoesNotFailIt_AndTheResultIsStoredOnce()
    {
        await Cluster.StartSchedulerAsync();
        await Cluster.StartFileServiceAsync();
        var results = await Cluster.StartResultsAsync();
        await Cluster.StartWorkerAsync("worker-1");
        var client = await Cluster.ClientAsync();
        var first = await client.RunAsync("flow1", null,
            Parameters(("text1", "Hello"), ("text2", "Outage"), ("filename", "outage.txt"), ("filesystem_identifier", "local"))).WaitAsync(Patience);
        var fileRep = first.Snapshot!.Tasks.Single(t => t.Slug == "save_text_file").Result!.Value;

        await results.KillAsync();
        var outage = DateTimeOffset.UtcNow;
        var second = client.RunAsync("flow2", null, new Dictionary<string, JsonElement> { ["file_rep"] = fileRep });
        await Task.Delay(TimeSpan.FromSeconds(60));
        Assert.False(second.IsCompleted, "flow2 ended while the Results service was down");
        await Cluster.StartResultsAsync();
        var outcome = await second.WaitAsync(Patience);

        Assert.True(outcome.Succeeded, outcome.Failure?.Message);
        Assert.True(outcome.Snapshot!.FinishedAt - outage > TimeSpan.FromSeconds(60));
        var save = outcome.Snapshot.Tasks.Single(t => t.Slug == "save_db_result");
        Assert.True(save.Attempt > 1, "the outage should have cost save_db_result at least one attempt");
        Assert.All(save.PastAttempts!, a => Assert.Equal("ServiceUnavailable", a.ErrorType));
        await using var db = new SqliteConnection($"Data Source={Path.Combine(Cluster.Root, "results", "results.db")};Mode=ReadOnly");
        await db.OpenAsync();
        await using var count = db.CreateCommand();
        count.CommandText = "SELECT COUNT(*) FROM results";
        Assert.Equal(1L, (long)(await count.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task TwoSchedulersOnOneStore_OneStandsBy_AndTakesOverWhenTheActiveOneDies_LosingNoRun()
    {
        var first = await Cluster.StartSchedulerAsync("scheduler-1", ("LUME_SCHEDULER__LEASE_SECONDS", "6"));
        var second = await Cluster.StartSchedulerAsync("scheduler-2", ("LUME_SCHEDULER__LEASE_SECONDS", "6"));
        await Cluster.StartFileServiceAsync();
        await Cluster.StartWorkerAsync("worker-1");
        await Cluster.StartWorkerAsync("worker-2");
        var client = await Cluster.ClientAsync();
        Assert.Contains("Standing by", second.Output, StringComparison.Ordinal);

        // Both up: every run is taken by the active one, once.
        var runs = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => client.RunAsync("fanout_20", null, Parameters())));
        Assert.All(runs, r => Assert.True(r.Succeeded, r.Failure?.Message));
        Assert.All(runs, r => Assert.All(r.Snapshot!.Tasks, t => Assert.Equal((TaskState.Completed, 1), (t.State, t.Attempt))));

        // The active one dies mid-run: the standby takes over and the run completes.
        var halfway = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var events = new Observer(completed => { if (completed.TaskSlug == "step-50") halfway.TrySetResult(); });
        var run = client.RunAsync("chain_200", null, Parameters(), events);
        await halfway.Task.WaitAsync(Patience);
        await first.KillAsync();
        var outcome = await run.WaitAsync(Patience);

        Assert.True(outcome.Succeeded, outcome.Failure?.Message);
        Assert.Contains("Taking over", second.Output, StringComparison.Ordinal);
        Assert.Equal(200, outcome.Snapshot!.Tasks.Count(t => t.State == TaskState.Completed));
        Assert.Equal(Enumerable.Range(1, 200), outcome.Snapshot.Tasks.Select(t => t.Result!.Value.GetInt32()));
    }

    [Fact]
    public async Task AWorkerStoppedMidTask_WithNoTaskTimeout_LosesTheTaskToAnotherWorker_AfterTheWorkerTimeout()
    {
        await Cluster.StartSchedulerAsync(("LUME_SCHEDULER__WORKER_TIMEOUT_SECONDS", "5"));
        await Cluster.StartFileServiceAsync();
        var workers = new Dictionary<string, ServiceProcess>
        {
            ["worker-a"] = await Cluster.StartWorkerAsync("worker-a", ("LUME_WORKER__HEARTBEAT_SECONDS", "1")),
            ["worker-b"] = await Cluster.StartWorkerAsync("worker-b", ("LUME_WORKER__HEARTBEAT_SECONDS", "1")),
        };
        var client = await Cluster.ClientAsync();
        var started = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);

        var run = client.RunAsync("slow_save", null, Parameters(("text", "hung"), ("filename", "hung.txt"), ("seconds", 4.0)),
            new Observer(_ => { }, s => started.TrySetResult(s.Worker)));
        var hung = await started.Task.WaitAsync(Patience);
        await Task.Delay(TimeSpan.FromSeconds(1.5)); // its heartbeat lists the attempt
        await workers[hung].SignalAsync("STOP");
        var outcome = await run.WaitAsync(Patience);
        await workers[hung].SignalAsync("CONT");

        Assert.True(outcome.Succeeded, outcome.Failure?.Message);
        var task = Assert.Single(outcome.Snapshot!.Tasks);
        Assert.NotEqual(hung, task.Worker);
        Assert.Equal((AttemptOutcome.Lost, hung), (task.PastAttempts!.Single().Outcome, task.PastAttempts!.Single().Worker));
        Assert.Equal("hung", await File.ReadAllTextAsync(Path.Combine(Cluster.FilesRoot, "hung.txt")));
    }

    [Fact]
    public async Task AWorkerStoppedBySigterm_WhileTasksWaitForIt_GivesThemBack_AndEveryRunEnds_CountedFromTheTasksOwnLog()
    {
        var log = Path.Combine(Cluster.Root, "executions");
        await Cluster.StartSchedulerAsync(("LUME_SCHEDULER__WORKER_TIMEOUT_SECONDS", "5"));
        (string, string)[] settings = [("LUME_EXAMPLES__EXECUTION_LOG", log), ("LUME_WORKER__CONCURRENCY", "4"), ("LUME_WORKER__HEARTBEAT_SECONDS", "1")];
        var stopped = await Cluster.StartWorkerAsync("worker-stopped", settings);
        var client = await Cluster.ClientAsync();
        var working = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        // Two runs of 60 steps of 0.2 s on 4 slots: when the worker is stopped, the way docker stop or Kubernetes stops it,
        // it runs four of them, and the rest wait in the queue, where MassTransit goes on delivering until it has stopped.
        var runs = Enumerable.Range(0, 2).Select(_ => client.RunAsync("chaos_wide", null, Parameters(), new Observer(_ => working.TrySetResult()))).ToArray();
        await working.Task.WaitAsync(Patience);
        await stopped.SignalAsync("TERM");
        using (var exit = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
            await stopped.WaitForExitAsync(exit.Token);
        Assert.Equal(0, stopped.ExitCode);
        await Cluster.StartWorkerAsync("worker-fresh", settings);

        var lines = new List<string[]>();
        foreach (var run in runs)
        {
            var outcome = await run.WaitAsync(Patience);
            Assert.True(outcome.Succeeded, outcome.Failure?.Message);
            var executions = Directory.GetFiles(log).SelectMany(File.ReadAllLines).Select(l => l.Split(' ')).Where(l => l[0] == outcome.RunId.ToString()).ToArray();
            lines.AddRange(executions);
            foreach (var task in outcome.Snapshot!.Tasks)
            {
                var ran = executions.Where(l => l[1] == task.Slug).ToArray();
                // The attempt that completed really ran, and a task that completed on the stopped worker ran nowhere else.
                Assert.Contains(ran, l => l[2] == task.Attempt.ToString(System.Globalization.CultureInfo.InvariantCulture) && l[3] == task.Worker);
                if (task.Worker == "worker-stopped")
                    Assert.Single(ran);
            }
        }

        var twice = lines.GroupBy(l => (l[0], l[1], l[2])).Where(g => g.Count() > 1).Select(g => g.Key).ToArray();
        Assert.True(twice.Length == 0, $"attempts run twice: {string.Join(", ", twice)}");
        Assert.Contains(lines, l => l[3] == "worker-stopped");
        Assert.Contains(lines, l => l[3] == "worker-fresh");
    }

    [Fact]
    public async Task ASchedulerKilledMidMap_LosesNoChild_AndRunsNoneTwice_CountedFromTheTasksOwnLog()
    {
        var log = Path.Combine(Cluster.Root, "executions");
        var scheduler = await Cluster.StartSchedulerAsync();
        (string, string)[] settings = [("LUME_EXAMPLES__EXECUTION_LOG", log), ("LUME_WORKER__CONCURRENCY", "8")];
        await Cluster.StartWorkerAsync("worker-1", settings);
        await Cluster.StartWorkerAsync("worker-2", settings);
        var client = await Cluster.ClientAsync();
        // Two and a half of the Scheduler's slices (RunProgression.ReleaseSlice): the kill may come while they go out.
        var values = Enumerable.Range(0, 5000).ToArray();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var run = client.RunAsync("chaos_map", null, new Dictionary<string, JsonElement> { ["values"] = JsonSerializer.SerializeToElement(values) },
            new Observer(_ => started.TrySetResult()));
        await started.Task.WaitAsync(Patience);
        await scheduler.KillAsync(); // children of "first" are on the workers, their reports wait on the broker
        await Task.Delay(TimeSpan.FromSeconds(1));
        await Cluster.StartSchedulerAsync();
        var outcome = await run.WaitAsync(Patience);

        Assert.True(outcome.Succeeded, outcome.Failure?.Message);
        var tasks = outcome.Snapshot!.Tasks.ToDictionary(t => t.Slug);
        Assert.Equal(values.Select(v => v + 2L), tasks["second"].Result!.Value.EnumerateArray().Select(v => v.GetInt64()));
        var executions = Directory.GetFiles(log).SelectMany(File.ReadAllLines).Select(l => l.Split(' ')).Where(l => l[0] == outcome.RunId.ToString()).ToArray();
        var expected = values.SelectMany((_, i) => new[] { $"first[{i}]", $"second[{i}]" }).Order(StringComparer.Ordinal);
        Assert.Equal(expected, executions.Select(l => l[1]).Order(StringComparer.Ordinal)); // each child once, none lost
    }

    [Fact]
    public async Task CancellingARun_CancelsItsSubflowRun_AndTheChildsStepsStop_CountedFromTheTasksOwnLog()
    {
        var log = Path.Combine(Cluster.Root, "executions");
        await Cluster.StartSchedulerAsync();
        await Cluster.StartWorkerAsync("worker-1", ("LUME_EXAMPLES__EXECUTION_LOG", log));
        var client = await Cluster.ClientAsync();
        int Steps(Guid run) => Directory.Exists(log) ? Directory.GetFiles(log).SelectMany(File.ReadAllLines).Count(l => l.StartsWith(run.ToString(), StringComparison.Ordinal)) : 0;

        var accepted = await client.RunAsync("chaos_subflow", null, Parameters(), wait: false);
        Guid? childId = null;
        for (var i = 0; i < 100 && (childId is null || Steps(childId.Value) == 0); i++)
        {
            await Task.Delay(200);
            childId = (await client.GetAsync(accepted.RunId))?.Tasks.Single().SubflowRunId;
        }

        Assert.True(childId is not null && Steps(childId.Value) > 0, "the child run did not start");
        await client.CancelAsync(accepted.RunId, "enough");
        await Task.Delay(TimeSpan.FromSeconds(3));

        var parent = (await client.GetAsync(accepted.RunId))!;
        var child = (await client.GetAsync(childId!.Value))!;
        Assert.Equal((RunState.Cancelled, RunState.Cancelled), (parent.State, child.State));
        Assert.Equal((accepted.RunId, "slow"), (child.ParentRunId!.Value, child.ParentTask));
        Assert.Contains($"run {accepted.RunId}, which started it, was cancelled: enough", child.Error, StringComparison.Ordinal);
        var steps = Steps(childId.Value);
        Assert.InRange(steps, 1, 5); // ten one-second steps: the cancel stopped the child after a few
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Equal(steps, Steps(childId.Value));
    }

    [Fact]
    public async Task ACancel_IsAppliedAtOnce_WhileTheSchedulerHasABacklogOfTaskReports_StillWaitingOnTheBroker()
    {
        var scheduler = await Cluster.StartSchedulerAsync();
        await Cluster.StartWorkerAsync("worker-1");
        var client = await Cluster.ClientAsync();
        var accepted = await client.RunAsync("chaos_slow", null, Parameters(), wait: false);
        for (var i = 0; i < 100 && (await client.GetAsync(accepted.RunId))?.State != RunState.Running; i++)
            await Task.Delay(100);
        await scheduler.KillAsync();

        // A backlog ahead of the cancel: reports of 200,000 attempts, each looked up in the Scheduler's store (of runs it
        // never heard of, so that they change nothing), as a 100,000-task run's workers leave them.
        var bus = (await Cluster.ClientServicesAsync()).GetRequiredService<MassTransit.IBus>();
        const int Backlog = 2000;
        var now = DateTimeOffset.UtcNow;
        var result = JsonSerializer.SerializeToElement(1);
        foreach (var chunk in Enumerable.Range(0, Backlog).Chunk(100))
            await Task.WhenAll(chunk.Select(_ => bus.Publish(new Contracts.TaskReports(
                [.. Enumerable.Range(0, 100).Select(i => new Contracts.TaskCompleted(Guid.NewGuid(), $"ghost-{i}", 1, Guid.NewGuid(), result, "ghost", now, now))], []))));
        var cancel = client.CancelAsync(accepted.RunId, "enough");
        await Cluster.StartSchedulerAsync();
        var answer = await cancel.WaitAsync(Patience);
        var waiting = (await Broker.ReadyMessagesAsync(Cluster.VirtualHost)).Where(q => q.Key.StartsWith("lume-scheduler", StringComparison.Ordinal)).Sum(q => q.Value);

        Output.WriteLine($"{waiting} of {Backlog} waiting");
        Assert.Equal(RunState.Cancelled, answer?.State);
        // Taken in turn, the cancel would have waited for every report before it.
        Assert.True(waiting >= Backlog / 4, $"the cancel was answered when only {waiting} of the {Backlog} messages of reports were still waiting");
    }

    [Fact]
    public async Task ASecondSchedulerWithAnotherStore_IsRefusedAtStart_AndTheActiveOneLosesNothing()
    {
        await Cluster.StartSchedulerAsync();
        await Cluster.StartWorkerAsync("worker-1");
        var client = await Cluster.ClientAsync();

        // Its own data folder, so its own SQLite store: it would take its own store's lease and half of every event.
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => Cluster.StartServiceAsync("scheduler-other", "Lume.Scheduler"));
        Assert.Contains("exited with code 3", refused.Message, StringComparison.Ordinal);
        Assert.Contains("another Scheduler is active on this broker with a different store", refused.Message, StringComparison.Ordinal);

        var runs = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => client.RunAsync("fanout_20", null, Parameters())));
        Assert.All(runs, r => Assert.True(r.Succeeded, r.Failure?.Message));
        Assert.All(runs, r => Assert.All(r.Snapshot!.Tasks, t => Assert.Equal((TaskState.Completed, 1), (t.State, t.Attempt))));
    }

    [Fact]
    public async Task ACachedResult_OutlivesTheScheduler_AndIsSharedByEveryWorker()
    {
        var scheduler = await Cluster.StartSchedulerAsync();
        await Cluster.StartWorkerAsync("worker-a");
        var client = await Cluster.ClientAsync();
        var first = await client.RunAsync("cached_step", null, Parameters(("value", 20))).WaitAsync(Patience);
        Assert.True(first.Succeeded, first.Failure?.Message);
        Assert.Equal((TaskState.Completed, "worker-a"), (first.Snapshot!.Tasks.Single(t => t.Slug == "expensive").State, first.Snapshot.Tasks.Single(t => t.Slug == "expensive").Worker));

        await scheduler.KillAsync();
        await Cluster.StartSchedulerAsync();
        await Cluster.StartWorkerAsync("worker-b");
        var second = await client.RunAsync("cached_step", null, Parameters(("value", 20))).WaitAsync(Patience);

        Assert.True(second.Succeeded, second.Failure?.Message);
        var expensive = second.Snapshot!.Tasks.Single(t => t.Slug == "expensive");
        Assert.Equal((TaskState.Cached, 21), (expensive.State, expensive.Result!.Value.GetInt32()));
        Assert.Equal(21, second.Snapshot.Tasks.Single(t => t.Slug == "report").Result!.Value.GetInt32());
    }

    [Fact]
    public async Task AWorkerTheBrokerNoLongerDeliversTo_ExitsWithCode1_AndAFreshWorkerRunsWhatWaited()
    {
        await Cluster.StartSchedulerAsync();
        var deaf = await Cluster.StartWorkerAsync("worker-deaf", ("LUME_WORKER__HEARTBEAT_SECONDS", "1"));
        var client = await Cluster.ClientAsync();
        var before = await client.RunAsync("chaos_retry", null, Parameters()).WaitAsync(Patience);
        Assert.True(before.Succeeded, before.Failure?.Message);

        // Heartbeats go on and MassTransit still calls the endpoint healthy; only the broker knows it delivers nothing.
        await Broker.DropConsumersAsync(Cluster.VirtualHost, "lume-tasks");
        var run = client.RunAsync("chaos_chain", null, Parameters());
        using (var patience = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            await deaf.WaitForExitAsync(patience.Token);
        Assert.Equal(1, deaf.ExitCode);
        Assert.Contains("its consumer is gone", deaf.Output, StringComparison.Ordinal);

        await Cluster.StartWorkerAsync("worker-fresh");
        var outcome = await run.WaitAsync(Patience);
        Assert.True(outcome.Succeeded, outcome.Failure?.Message);
        Assert.All(outcome.Snapshot!.Tasks, t => Assert.Equal(("worker-fresh", 1), (t.Worker, t.Attempt)));
    }

    sealed class Observer(Action<Contracts.TaskCompleted> completed, Action<Contracts.TaskStarted>? started = null) : Cli.IRunObserver
    {
        public void TaskCompleted(Contracts.TaskCompleted message) => completed(message);

        public void TaskStarted(Contracts.TaskStarted message) => started?.Invoke(message);
    }
}

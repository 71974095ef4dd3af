using Lume.Contracts;
using System.Text.Json;
using Lume.Cli;
using Lume.Examples;
using Lume.Testing;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace Lume.Integration.Tests;

/// <summary>
/// Every accepted run ends, and no attempt runs twice, while processes are killed, stopped, hung and restarted, the broker
/// itself restarts and stops delivering to the workers. What ran is counted from the tasks' own execution log and from
/// the files and results on disk.
/// <c>scripts/soak</c> runs the same for longer.
/// </summary>
[Collection("RabbitMQ")]
public sealed class ChaosTests(ITestOutputHelper output) : IAsyncLifetime
{
    static string Node => $"chaos{Port}";
    static readonly int Port = int.TryParse(Environment.GetEnvironmentVariable("LUME_CHAOS_PORT"), out var port) ? port : 5673;
    static readonly TimeSpan Patience = TimeSpan.FromMinutes(5);
    Cluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = Cluster.OnOwnBroker(await Broker.StartNodeAsync(Node, Port), "chaos");

    public async Task DisposeAsync()
    {
        output.WriteLine(_cluster.Logs);
        await _cluster.DisposeAsync();
        await Broker.StopNodeAsync(Node, Port);
    }

    string ExecutionLog => Path.Combine(_cluster.Root, "executions");

    (string, string)[] WorkerSettings => [
        ("LUME_EXAMPLES__EXECUTION_LOG", ExecutionLog), ("LUME_WORKER__HEARTBEAT_SECONDS", "2"), ("LUME_WORKER__CONCURRENCY", "8")];

    static readonly (string, string)[] SchedulerSettings = [("LUME_SCHEDULER__WORKER_TIMEOUT_SECONDS", "10"), ("LUME_SCHEDULER__LEASE_SECONDS", "5")];

    static Dictionary<string, JsonElement> Parameters(params (string Name, object Value)[] values) =>
        values.ToDictionary(v => v.Name, v => JsonSerializer.SerializeToElement(v.Value));

    [Fact]
    public async Task UnderKillsHangsRestartsAndABrokerRestart_EveryRunEnds_AndNoAttemptRunsTwice()
    {
        var minutes = double.TryParse(Environment.GetEnvironmentVariable("LUME_SOAK_MINUTES"), System.Globalization.CultureInfo.InvariantCulture, out var m) ? m : 0;
        Directory.CreateDirectory(_cluster.Root);
        var scheduler = await _cluster.StartSchedulerAsync(SchedulerSettings);
        var files = await _cluster.StartFileServiceAsync();
        var results = await _cluster.StartResultsAsync();
        var workers = new List<ServiceProcess>();
        for (var i = 1; i <= 3; i++)
            workers.Add(await _cluster.StartWorkerAsync($"worker-{i}", WorkerSettings));
        var client = await _cluster.ClientAsync();
        var killed = new HashSet<string>();
        var exited = new HashSet<string>();
        var idle = new List<string>();
        var named = workers.Count;

        // A supervisor's part: a worker that found it could not take tasks, or a service whose sends stuck after a broker
        // restart, exits with code 1, and a fresh one replaces it.
        async Task SuperviseAsync()
        {
            async Task<ServiceProcess> Replace(ServiceProcess gone, Func<Task<ServiceProcess>> start)
            {
                Assert.True(gone.ExitCode == 1, $"{gone.Name} exited with code {gone.ExitCode}");
                exited.Add(gone.Name);
                return await start();
            }

            if (scheduler.HasExited)
                scheduler = await Replace(scheduler, () => _cluster.StartSchedulerAsync(SchedulerSettings));
            if (files.HasExited)
                files = await Replace(files, _cluster.StartFileServiceAsync);
            if (results.HasExited)
                results = await Replace(results, _cluster.StartResultsAsync);
            foreach (var gone in workers.Where(w => w.HasExited).ToArray())
            {
                Assert.True(gone.ExitCode == 1, $"{gone.Name} exited with code {gone.ExitCode}");
                exited.Add(gone.Name);
                workers.Remove(gone);
                workers.Add(await _cluster.StartWorkerAsync($"worker-{++named}", WorkerSettings));
            }
        }

        // Waits for a run as a supervisor would: replacing whatever exits meanwhile.
        async Task<T> SupervisedAsync<T>(Task<T> run)
        {
            var until = DateTimeOffset.UtcNow + Patience;
            while (!run.IsCompleted && DateTimeOffset.UtcNow < until)
            {
                await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(2)));
                await SuperviseAsync();
            }

            return await run.WaitAsync(TimeSpan.Zero);
        }

        var expected = new List<(Task<RunOutcome> Run, string Flow, string State)>();
        var round = 0;
        var soakUntil = DateTimeOffset.UtcNow.AddMinutes(minutes);
        do
        {
            round++;
            void Submit(string flow, string state) => expected.Add((client.RunAsync(flow, null, Parameters()), flow, state));

            for (var i = 0; i < 3; i++)
                Submit("chaos_chain", "completed");
            for (var i = 0; i < 6; i++)
                Submit("chaos_busy", "completed");
            Submit("chaos_fanout", "completed");
            Submit("chaos_wide", "completed");
            Submit("chaos_map", "completed");
            Submit("chaos_retry", "completed");
            Submit("chaos_retry", "completed");
            Submit("chaos_timeout", "completed");
            Submit("chaos_timeout", "completed");
            var flow1 = Enumerable.Range(1, 2).Select(i => client.RunAsync("flow1", null, Parameters(
                ("text1", $"round {round} file {i} "), ("text2", Guid.NewGuid().ToString()), ("filename", $"r{round}-f{i}.txt"),
                ("filesystem_identifier", "local")))).ToArray();
            foreach (var run in flow1)
                expected.Add((run, "flow1", "completed"));
            var submitted = System.Diagnostics.Stopwatch.StartNew();
            var slow = Enumerable.Range(0, 2).Select(_ => client.RunAsync("chaos_slow", null, Parameters(), wait: false)).ToArray();

            // The faults, one after another while the runs go on. The kill comes first, while the busy chains surely run:
            // on a loaded machine the client can hear of the slow runs' acceptance seconds late (CI saw 16 s), and a kill
            // that waited for it came after the busy chains had ended.
            await Task.Delay(TimeSpan.FromSeconds(2));
            var victim = await RunningABusyStepAsync(workers);
            await victim.KillAsync();
            killed.Add(victim.Name);
            workers.Remove(victim);
            foreach (var accepted in await Task.WhenAll(slow))
                expected.Add((client.CancelAsync(accepted.RunId, "chaos: cancelled midway").ContinueWith(
                    t => new RunOutcome(accepted.RunId, "chaos_slow", null, t.Result, TimeSpan.Zero), TaskScheduler.Default), "chaos_slow", "cancelled"));
            output.WriteLine($"round {round}: {victim.Name} killed; the chaos_slow runs were accepted and their cancel sent {submitted.Elapsed.TotalSeconds:0.0} s after they were submitted");
            workers.Add(await _cluster.StartWorkerAsync($"worker-{++named}", WorkerSettings));

            // Stopped the way docker stop or Kubernetes stops a worker: it cancels what it runs, and what it was handed
            // while stopping goes back to the queue.
            var drained = workers[0];
            await drained.SignalAsync("TERM");
            workers.RemoveAt(0);
            using (var exit = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
                await drained.WaitForExitAsync(exit.Token);
            Assert.True(drained.ExitCode == 0, $"{drained.Name} stopped by SIGTERM exited with code {drained.ExitCode}");
            workers.Add(await _cluster.StartWorkerAsync($"worker-{++named}", WorkerSettings));

            await Task.Delay(TimeSpan.FromSeconds(1));
            var hung = workers[0];
            await hung.SignalAsync("STOP");

            await Task.Delay(TimeSpan.FromSeconds(2));
            await scheduler.KillAsync();
            await Task.Delay(TimeSpan.FromSeconds(1));
            scheduler = await _cluster.StartSchedulerAsync(SchedulerSettings);

            await Task.Delay(TimeSpan.FromSeconds(2));
            await Broker.StopNodeAsync(Node, Port);
            await Task.Delay(TimeSpan.FromSeconds(1));
            await Broker.StartNodeAsync(Node, Port);
            var restartedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            var restarted = workers.Select(w => w.Name).ToArray();

            await Task.Delay(TimeSpan.FromSeconds(3));
            await hung.SignalAsync("CONT");
            await Task.Delay(TimeSpan.FromSeconds(10)); // the client's own connection comes back too
            // Work for every worker, the one just continued too, until each has taken some since the restart: a worker
            // whose consumer did not come back never does (it must find that out and exit), while one that only
            // reconnected slowly is not blamed for it.
            var reconnectDeadline = DateTimeOffset.UtcNow.AddSeconds(60);
            do
            {
                await SuperviseAsync();
                Submit("chaos_fanout", "completed");
                try
                {
                    await SupervisedAsync(expected[^1].Run);
                }
                catch (RunWaitAbandonedException)
                {
                    // Checked in the store with every other run at the end.
                }
            }
            while (restarted.Any(name => !WorkedSince(name, restartedAt) && !exited.Contains(name)) && DateTimeOffset.UtcNow < reconnectDeadline);

            // One that took nothing may still be on its way out: a worker gives up 60 s after its last heartbeat went out
            // (LUME_WORKER__UNHEALTHY_EXIT_SECONDS; the one hung across the restart sent its last before the hang), and
            // its bus then has up to 30 s to stop. Only one still running after both has lived on.
            var ownLimit = DateTimeOffset.FromUnixTimeMilliseconds(restartedAt).AddSeconds(60 + 30 + 15);
            while (restarted.Any(name => !WorkedSince(name, restartedAt) && !exited.Contains(name)) && DateTimeOffset.UtcNow < ownLimit)
            {
                await Task.Delay(TimeSpan.FromSeconds(1));
                await SuperviseAsync();
            }

            idle.AddRange(restarted.Where(name => !WorkedSince(name, restartedAt) && !exited.Contains(name)));

            // Workers the broker no longer delivers to, while all else about them looks well (their connections open,
            // MassTransit's endpoints healthy): each finds out by itself and exits, and the fresh ones run the work.
            await Broker.DropConsumersAsync("/", "lume-tasks", Node);
            var deafened = workers.ToArray();
            Submit("chaos_fanout", "completed");
            using (var patience = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
                foreach (var worker in deafened)
                    await worker.WaitForExitAsync(patience.Token);
            await SuperviseAsync();

            // A Results outage longer than a request's 30 s timeout, while a flow2 wants to store its result.
            var first = await SupervisedAsync(flow1[0]);
            Assert.True(first.Succeeded, $"flow1 failed: {first.Failure?.Message}");
            await results.KillAsync();
            expected.Add((client.RunAsync("flow2", null, new Dictionary<string, JsonElement>
            {
                ["file_rep"] = first.Snapshot!.Tasks.Single(t => t.Slug == "save_text_file").Result!.Value,
            }), "flow2", "completed"));
            await Task.Delay(TimeSpan.FromSeconds(35));
            results = await _cluster.StartResultsAsync();
            await SuperviseAsync();
        }
        while (DateTimeOffset.UtcNow < soakUntil);

        // Each run as the Scheduler stores it once everything has ended.
        var outcomes = new List<(RunOutcome Outcome, string Flow, string State)>();
        foreach (var (run, flow, state) in expected)
        {
            RunOutcome outcome;
            try
            {
                outcome = await SupervisedAsync(run);
            }
            catch (RunWaitAbandonedException abandoned)
            {
                // The client stops waiting after 60 s without a word from the Scheduler (several faults in a row on a
                // loaded machine can take that long); whether the run ended is asked of the store below, as for every run.
                outcome = new RunOutcome(abandoned.RunId, flow, null, null, TimeSpan.Zero);
            }
            catch (TimeoutException)
            {
                // Not ended within the patience: say which runs have not, and where each of their tasks stands.
                var unfinished = new List<string>();
                foreach (var entry in (await client.ListAsync(1000)).Where(r => r.State == RunState.Running))
                    unfinished.Add($"{entry.RunId} of {entry.Flow}: " + string.Join(", ", (await client.GetAsync(entry.RunId))?.Tasks
                        .Where(t => t.State is not (TaskState.Completed or TaskState.Skipped or TaskState.Cancelled))
                        .Select(t => $"{t.Slug} {t.State} #{t.Attempt} on {t.Worker ?? "-"} ({string.Join("/", t.PastAttempts?.Select(a => $"#{a.Attempt} {a.Outcome}") ?? [])})") ?? []));
                Assert.Fail($"a run of {flow} did not end within {Patience}; unfinished: {string.Join("; ", unfinished)}");
                throw;
            }

            outcomes.Add((outcome with { Snapshot = await client.GetAsync(outcome.RunId) }, flow, state));
        }

        // What happened, said before it is checked, so that a failure can be read against it.
        var lines = Directory.GetFiles(ExecutionLog).SelectMany(File.ReadAllLines).Select(l => l.Split(' ')).ToArray();
        var byAttempt = lines.Where(l => l.Length == 6).GroupBy(l => (l[0], l[1], l[2])).ToArray();
        var lost = outcomes.Sum(o => o.Outcome.Snapshot?.Tasks.Sum(t => t.PastAttempts?.Count(a => a.Outcome == AttemptOutcome.Lost) ?? 0) ?? 0);
        output.WriteLine($"{round} rounds, {outcomes.Count} runs, {lines.Length} executions of {byAttempt.Length} attempts; " +
            $"{byAttempt.Count(g => g.Count() > 1)} attempts ran again after their worker was killed; " +
            $"{exited.Count} services exited by themselves ({string.Join(", ", exited)}); " +
            $"{lost} attempts lost; the chaos_slow runs to cancel ran {string.Join(" and ", outcomes.Where(o => o.Flow == "chaos_slow").Select(o => lines.Count(l => l[0] == o.Outcome.RunId.ToString())))} steps");

        // Every accepted run ended, as it should have.
        foreach (var (outcome, flow, state) in outcomes)
        {
            var ended = outcome.Snapshot is { } snapshot ? WireEnumConverter<RunState>.Name(snapshot.State) : "unknown";
            Assert.True(ended == state, $"run {outcome.RunId} of {flow} is {ended}, not {state}: {outcome.Failure?.Message}");
        }

        // No attempt ran twice, except where the worker running it was killed; and every completed step really ran.
        Assert.All(lines, l => Assert.True(l.Length == 6, $"a malformed line in the execution log: {string.Join(' ', l)}"));
        var twice = byAttempt.Where(g => g.Count() > 1 && !g.Any(l => killed.Contains(l[3]))).ToArray();
        Assert.True(twice.Length == 0, "attempts run twice: " + string.Join("; ", twice.Select(g => $"{g.Key} on {string.Join(",", g.Select(l => l[3]))}")));
        // Looked up, not searched: a quicker engine fits more rounds, and runs times tasks times attempts grows fast.
        var ran = byAttempt.Select(g => g.Key).ToHashSet();
        foreach (var (outcome, _, _) in outcomes.Where(o => o.Flow.StartsWith("chaos_", StringComparison.Ordinal) && o.Outcome.Snapshot?.State == RunState.Completed))
            foreach (var task in outcome.Snapshot!.Tasks.Where(t => t.TaskType == "chaos_step" && t.Attempt > 0)) // a mapped task runs as its children
                Assert.True(ran.Contains((outcome.RunId.ToString(), task.Slug, task.Attempt.ToString(System.Globalization.CultureInfo.InvariantCulture))),
                    $"run {outcome.RunId}: task {task.Slug} completed at attempt {task.Attempt}, which its execution log does not show");
        // A mapped task's list holds each child's own result, in order, whatever the faults did to the children.
        foreach (var (outcome, _, _) in outcomes.Where(o => o.Flow == "chaos_map" && o.Outcome.Snapshot?.State == RunState.Completed))
        {
            var tasks = outcome.Snapshot!.Tasks.ToDictionary(t => t.Slug);
            var values = ChaosFlows.Map.Parameters.Single().Default!.Value.EnumerateArray().Select(v => v.GetInt64()).ToArray();
            Assert.Equal(values.Select(v => v + 2), tasks["second"].Result!.Value.EnumerateArray().Select(v => v.GetInt64()));
            for (var i = 0; i < values.Length; i++)
                Assert.Equal(values[i] + 2, tasks[$"second[{i}]"].Result!.Value.GetInt64());
        }

        foreach (var (outcome, _, _) in outcomes.Where(o => o.Flow == "chaos_retry"))
            Assert.Contains(outcome.Snapshot!.Tasks.Single(t => t.Slug == "flaky").PastAttempts!, a => a is { Outcome: AttemptOutcome.Failed, ErrorType: "IOException" });
        // Only the first attempt sleeps past the timeout: unless a fault took that attempt away first, it timed out.
        foreach (var (outcome, _, _) in outcomes.Where(o => o.Flow == "chaos_timeout"))
        {
            var past = outcome.Snapshot!.Tasks.Single(t => t.Slug == "sleepy").PastAttempts!;
            Assert.True(past.Any(a => a.Outcome == AttemptOutcome.TimedOut) || past.First().Outcome == AttemptOutcome.Lost,
                $"run {outcome.RunId}: sleepy's attempts {string.Join(", ", past.Select(a => $"{a.Attempt} {a.Outcome}"))}");
        }
        // The faults hit work in flight: attempts were lost with their workers and replaced.
        Assert.True(lost > 0, $"no attempt was lost, though {string.Join(", ", killed)} was killed while it ran a step");
        foreach (var (outcome, _, _) in outcomes.Where(o => o.Flow == "chaos_slow"))
            Assert.True(lines.Count(l => l[0] == outcome.RunId.ToString()) < Lume.Examples.ChaosFlows.SlowSteps, "a cancelled chaos_slow run ran all its steps");

        // Every file and result exists once, whole; no temporary file is left.
        foreach (var (outcome, _, _) in outcomes.Where(o => o.Flow == "flow1"))
        {
            var rep = outcome.Snapshot!.Tasks.Single(t => t.Slug == "save_text_file").Result!.Value;
            var text = outcome.Snapshot.Tasks.Single(t => t.Slug == "append_text").Result!.Value.GetString();
            Assert.Equal(text, await File.ReadAllTextAsync(Path.Combine(_cluster.FilesRoot, rep.GetProperty("filename").GetString()!)));
        }

        Assert.Equal(outcomes.Count(o => o.Flow == "flow1"), Directory.GetFiles(_cluster.FilesRoot, "*", SearchOption.AllDirectories).Length);
        await using var db = new SqliteConnection($"Data Source={Path.Combine(_cluster.Root, "results", "results.db")};Mode=ReadOnly");
        await db.OpenAsync();
        await using var count = db.CreateCommand();
        count.CommandText = "SELECT COUNT(*) FROM results";
        Assert.Equal((long)outcomes.Count(o => o.Flow == "flow2"), (long)(await count.ExecuteScalarAsync())!);
        // After each broker restart every worker took work again, or found that it could not and exited for its
        // supervisor to replace it: none lived on idle, heartbeating and taking nothing.
        Assert.True(idle.Count == 0, $"{string.Join(", ", idle)} took no task for 60 s after a broker restart, and lived on");
    }

    // A worker seen running a step this moment, from the tasks' own side: its execution log shows a chaos_busy step (0.3 s
    // long) started within the last 100 ms. Killing whichever worker came first could kill one that held nothing (each
    // of the six busy chains has one step in flight, so about one time in ten none is on a given worker of three), and
    // the kill would test nothing.
    async Task<ServiceProcess> RunningABusyStepAsync(IReadOnlyList<ServiceProcess> among)
    {
        var until = DateTimeOffset.UtcNow.AddSeconds(30);
        while (DateTimeOffset.UtcNow < until)
        {
            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            foreach (var worker in among.Where(w => !w.HasExited))
                if (ExecutionsOf(worker.Name).Any(l => l[1].StartsWith("busy-", StringComparison.Ordinal) && now - At(l) < 100))
                    return worker;
            await Task.Delay(TimeSpan.FromMilliseconds(10));
        }

        throw new TimeoutException("no worker started a chaos_busy step within 30 s");
    }

    // Whether the worker's execution log has a line written after the given moment (unix ms).
    bool WorkedSince(string worker, long at) => ExecutionsOf(worker).Any(l => At(l) > at);

    // The worker's lines of the execution log, each split into its six fields: run, slug, attempt, worker, pid, unix ms.
    IEnumerable<string[]> ExecutionsOf(string worker) =>
        Directory.Exists(ExecutionLog)
            ? Directory.GetFiles(ExecutionLog, $"{worker}-*.log").SelectMany(File.ReadAllLines).Select(l => l.Split(' ')).Where(l => l.Length == 6)
            : [];

    static long At(string[] execution) => long.Parse(execution[5], System.Globalization.CultureInfo.InvariantCulture);
}

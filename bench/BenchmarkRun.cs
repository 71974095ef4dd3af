using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Lume.Cli;
using Lume.Contracts;
using Lume.Examples;
using Lume.Hosting;
using Lume.Testing;

namespace Lume.Bench;

/// <summary>One benchmark run: every measurement on the same broker, one after the other.</summary>
sealed class BenchmarkRun(bool quick, IReadOnlySet<string> only)
{
    /// <summary>What <c>--only</c> can name.</summary>
    public const string StepNames = "masstransit, chain, fanout, map, graph, embedded, celery";

    readonly Results _results = new(quick);
    int FanOutWidth => quick ? 1000 : 5000;
    int[] FanOutWorkers => quick ? [1, 4] : [1, 2, 4];

    public async Task<Results> RunAsync()
    {
        await Broker.EnsureRunningAsync();
        if (only.Contains("masstransit"))
            await Step("raw MassTransit", RawMassTransitAsync);
        if (only.Contains("chain"))
            await Step("Lume chain", LumeChainAsync);
        if (only.Contains("fanout"))
            foreach (var workers in FanOutWorkers)
                await Step($"Lume fan-out, {workers} workers", () => LumeFanOutAsync(workers));
        if (only.Contains("map"))
            await Step("Lume map of 10,000", LumeMapAsync);
        if (!quick && only.Contains("graph"))
            await Step("Lume 20,000-task graph", LumeGraphAsync);
        if (only.Contains("embedded"))
            await Step("Lume embedded", EmbeddedAsync);
        if (only.Contains("celery"))
            await Step("Celery", CeleryAsync);
        return _results;
    }

    async Task Step(string name, Func<Task> measure)
    {
        Console.Error.WriteLine($"bench: {name}...");
        var clock = Stopwatch.StartNew();
        try
        {
            await measure();
        }
        catch (Exception e)
        {
            _results.Note($"{name}: not measured: {e.GetType().Name}: {e.Message}");
        }

        Console.Error.WriteLine($"bench: {name} took {clock.Elapsed.TotalSeconds:0.0} s");
    }

    async Task RawMassTransitAsync()
    {
        var (vhost, url) = await Broker.NewVirtualHostAsync();
        try
        {
            var steps = await RawMassTransit.ChainAsync(url, 200);
            _results.Add("raw MassTransit: 200 request/response steps in a row", $"{Statistics.Median(steps):0.00} ms median, {Statistics.Percentile(steps, 99):0.00} ms p99 per step");
            _results.Metric("mt_step_ms", Statistics.Median(steps));
            var messages = quick ? 5000 : 10_000;
            var cpu = CpuUse.Start([]);
            var rate = await RawMassTransit.PublishConsumeAsync(url, messages);
            _results.Add($"raw MassTransit: publish and consume {messages:N0} persistent messages",
                $"{rate:N0} msg/s (CPU ms per message: {cpu.PerUnit(messages)})");
            _results.Metric("mt_msgs_per_s", rate);
        }
        finally
        {
            await Broker.DeleteVirtualHostAsync(vhost);
        }
    }

    static IReadOnlyList<double> Hops(RunSnapshot run) =>
        run.Tasks.Where(t => t.StartedAt is not null).OrderBy(t => t.StartedAt).Select(t => t.StartedAt!.Value)
            .Zip(run.Tasks.Where(t => t.StartedAt is not null).OrderBy(t => t.StartedAt).Select(t => t.StartedAt!.Value).Skip(1), (a, b) => (b - a).TotalMilliseconds)
            .ToArray();

    static double TasksPerSecond(RunSnapshot run) => run.Tasks.Count / (run.FinishedAt!.Value - run.CreatedAt).TotalSeconds;

    static async Task<RunSnapshot> RunAsync(RunClient client, string flow, Dictionary<string, JsonElement>? parameters = null)
    {
        var outcome = await client.RunAsync(flow, null, parameters ?? []).WaitAsync(TimeSpan.FromMinutes(30));
        return outcome.Succeeded ? outcome.Snapshot! : throw new InvalidOperationException($"run of {flow} failed: {outcome.Failure?.Message}");
    }

    async Task LumeChainAsync()
    {
        await using var lume = await LumeDeployment.StartAsync(workers: 1);
        var client = await lume.ClientAsync();
        await RunAsync(client, "chain_200"); // warm-up (JIT, connections): services run for long, so measure them warm
        var hops = Hops(await RunAsync(client, "chain_200"));
        _results.Add("Lume: chain of 200 trivial tasks, per hop (RabbitMQ, 1 worker)", $"{Statistics.Median(hops):0.00} ms median, {Statistics.Percentile(hops, 99):0.00} ms p99");
        _results.Metric("chain_hop_ms", Statistics.Median(hops));
    }

    async Task LumeFanOutAsync(int workers)
    {
        await using var lume = await LumeDeployment.StartAsync(workers);
        var flow = ScaleFlows.FanOut(FanOutWidth);
        await lume.RegisterAsync(flow);
        var client = await lume.ClientAsync();
        await RunAsync(client, flow.Name);
        var cpu = CpuUse.Start(lume.Processes);
        var run = await RunAsync(client, flow.Name);
        var rate = TasksPerSecond(run);
        _results.Add($"Lume: fan-out of {FanOutWidth:N0} + fan-in, {workers} worker{(workers > 1 ? "s" : "")}",
            $"{rate:N0} tasks/s (CPU ms per task: {cpu.PerUnit(run.Tasks.Count)})");
        _results.Metric($"fanout_tps_{workers}", rate);
    }

    // A list known only at run time: the Scheduler makes one child per element. Its memory per element is what the
    // Scheduler's resident set grew by over the run, divided by the elements; the static fan-out of as many tasks, in
    // the same deployment, is the comparison.
    async Task LumeMapAsync()
    {
        const int elements = 10_000;
        await using var lume = await LumeDeployment.StartAsync(workers: 4);
        var fanOut = ScaleFlows.FanOut(elements);
        await lume.RegisterAsync(fanOut);
        var client = await lume.ClientAsync();
        Dictionary<string, JsonElement> Values(int count) => new() { ["values"] = JsonSerializer.SerializeToElement(Enumerable.Range(0, count).Select(i => i % 100)) };
        await RunAsync(client, "map_square", Values(100)); // warm-up
        await RunAsync(client, "fanout_20");
        var before = RssMiB(lume.Scheduler!.Id, "VmRSS:");
        var cpu = CpuUse.Start(lume.Processes);
        var run = await RunAsync(client, "map_square", Values(elements));
        var used = cpu.PerUnit(run.Tasks.Count);
        var peak = RssMiB(lume.Scheduler.Id, "VmHWM:");
        var rate = TasksPerSecond(run);
        var perElement = (peak - before) * 1024.0 / elements;
        _results.Add($"Lume: map of {elements:N0} elements + sum, 4 workers",
            $"{rate:N0} tasks/s; Scheduler RSS {before} MiB before, {peak} MiB peak: {perElement:0.0} KiB per element (CPU ms per task: {used})");
        _results.Metric("map10k_tps", rate);
        _results.Metric("map10k_kib_per_element", perElement);
        var fan = TasksPerSecond(await RunAsync(client, fanOut.Name));
        _results.Add($"Lume: static fan-out of {elements:N0} + fan-in, same deployment", $"{fan:N0} tasks/s");
    }

    async Task LumeGraphAsync()
    {
        await using var lume = await LumeDeployment.StartAsync(workers: 4);
        var flow = ScaleFlows.FanOut(19_999);
        await lume.RegisterAsync(flow);
        var client = await lume.ClientAsync();
        await RunAsync(client, "fanout_20");
        var clock = Stopwatch.StartNew();
        var cpu = CpuUse.Start(lume.Processes);
        var run = await RunAsync(client, flow.Name);
        var seconds = clock.Elapsed.TotalSeconds;
        var rss = PeakRssMiB(lume.Scheduler!.Id);
        _results.Add($"Lume: 20,000-task flow ({run.Tasks.Count:N0} tasks, 4 workers)", $"{seconds:0.0} s, Scheduler peak RSS {rss} MiB (CPU ms per task: {cpu.PerUnit(run.Tasks.Count)})");
        _results.Metric("graph20k_s", seconds);
        _results.Metric("graph20k_rss_mb", rss);
    }

    async Task EmbeddedAsync()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "lume-bench", $"embedded-{Guid.NewGuid():N}");
        var fanOut = ScaleFlows.FanOut(FanOutWidth);
        using var lume = LumeHost.Build(
            new Dictionary<string, string?> { ["DATA_DIR"] = dataDir, ["LOG_LEVEL"] = "Error", ["BROKER"] = "" },
            builder => builder.Services.AddLumeFlow(fanOut));
        await lume.StartAsync(CancellationToken.None);
        try
        {
            await RunAsync(lume.Client, "chain_200");
            var hops = Hops(await RunAsync(lume.Client, "chain_200"));
            _results.Add("Lume embedded (in-memory): chain of 200, per hop", $"{Statistics.Median(hops):0.00} ms median, {Statistics.Percentile(hops, 99):0.00} ms p99");
            await RunAsync(lume.Client, fanOut.Name);
            var rate = TasksPerSecond(await RunAsync(lume.Client, fanOut.Name));
            _results.Add($"Lume embedded (in-memory): fan-out of {FanOutWidth:N0} + fan-in", $"{rate:N0} tasks/s");
        }
        finally
        {
            await lume.StopAsync();
            Directory.Delete(dataDir, recursive: true);
        }
    }

    async Task CeleryAsync()
    {
        if (await Celery.EnsureInstalledAsync() is { } why)
        {
            _results.Note($"Celery: not measured: {why}");
            return;
        }

        var (vhost, url) = await Broker.NewVirtualHostAsync();
        try
        {
            var width = quick ? 1000 : 5000;
            var (step, tps) = await Celery.MeasureAsync(url, 200, width);
            _results.Add("Celery 5: chain of 200 trivial tasks, per step", $"{step:0.0} ms");
            _results.Add($"Celery 5: group of {width:N0} trivial tasks", $"{tps:N0} tasks/s");
            _results.Metric("celery_step_ms", step);
            _results.Metric("celery_group_tps", tps);
        }
        finally
        {
            await Broker.DeleteVirtualHostAsync(vhost);
        }
    }

    static long PeakRssMiB(int pid) => RssMiB(pid, "VmHWM:");

    // VmRSS: resident now; VmHWM: the peak so far.
    static long RssMiB(int pid, string field) =>
        long.Parse(File.ReadAllLines($"/proc/{pid}/status").Single(l => l.StartsWith(field, StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
}

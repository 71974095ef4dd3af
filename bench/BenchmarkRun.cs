using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Lume.Cli;
using Lume.Contracts;
using Lume.Examples;
using Lume.Flows;
using Lume.Hosting;
using Lume.Testing;

namespace Lume.Bench;

/// <summary>One benchmark run: every measurement on the same broker, one after the other.</summary>
sealed class BenchmarkRun(bool quick, IReadOnlySet<string> only)
{
    /// <summary>What <c>--only</c> can name.</summary>
    public const string StepNames = "masstransit, chain, fanout, tracing, runs, map, graph, embedded, celery";

    const int FanOutWidth = 5000;
    const int SmallRunCount = 1000;

    readonly Results _results = new(quick);

    public async Task<Results> RunAsync()
    {
        await Broker.EnsureRunningAsync();
        if (only.Contains("masstransit"))
            await Step("raw MassTransit", RawMassTransitAsync);
        if (only.Contains("chain"))
            await Step("Lume chain", LumeChainAsync);
        if (only.Contains("fanout"))
            foreach (var workers in new[] { 1, 2, 4 })
                await Step($"Lume fan-out, {workers} workers", () => LumeFanOutAsync(workers));
        if (only.Contains("tracing"))
            await Step("Lume fan-out, tracing on", LumeTracingAsync);
        if (only.Contains("runs"))
            await Step("Lume many small runs", LumeSmallRunsAsync);
        if (only.Contains("map"))
            await Step("Lume map of 10,000", LumeMapAsync);
        if (!quick && only.Contains("graph"))
        {
            await Step("Lume 20,000-task graph", LumeGraphAsync);
            await Step("Lume 100,000-task graphs", LumeGraph100kAsync);
        }
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
        // Services run for long, so they are measured warm (see ChainHopsAsync).
        var hops = await ChainHopsAsync(client, TimeSpan.FromSeconds(5));
        _results.Add("Lume: chain of 200 trivial tasks, per hop (RabbitMQ, 1 worker)", $"{Statistics.Median(hops):0.00} ms median, {Statistics.Percentile(hops, 99):0.00} ms p99");
        _results.Metric("chain_hop_ms", Statistics.Median(hops));
    }

    async Task LumeFanOutAsync(int workers)
    {
        await using var lume = await LumeDeployment.StartAsync(workers);
        var (rate, cpu) = await FanOutAsync(lume);
        _results.Add($"Lume: fan-out of {FanOutWidth:N0} + fan-in, {workers} worker{(workers > 1 ? "s" : "")}", $"{rate:N0} tasks/s (CPU ms per task: {cpu})");
        _results.Metric($"fanout_tps_{workers}", rate);
    }

    // Warm (the first run teaches the Scheduler how quick the tasks are, as any run before it would), then measured.
    static async Task<(double Rate, string Cpu)> FanOutAsync(LumeDeployment lume)
    {
        var flow = ScaleFlows.FanOut(FanOutWidth);
        await lume.RegisterAsync(flow);
        var client = await lume.ClientAsync();
        await RunAsync(client, flow.Name);
        var cpu = CpuUse.Start(lume.Processes);
        var run = await RunAsync(client, flow.Name);
        return (TasksPerSecond(run), cpu.PerUnit(run.Tasks.Count));
    }

    // The same fan-out with every service exporting its spans over OTLP to a sink this bench runs: production's setting.
    async Task LumeTracingAsync()
    {
        using var sink = new OtlpSink();
        double rate;
        string cpu;
        await using (var lume = await LumeDeployment.StartAsync(4, sink.Settings))
            (rate, cpu) = await FanOutAsync(lume);
        _results.Add($"Lume: fan-out of {FanOutWidth:N0} + fan-in, 4 workers, tracing on (OTLP to a local sink)",
            $"{rate:N0} tasks/s (CPU ms per task: {cpu}); the sink took {sink.Requests:N0} exports, {sink.Bytes / 1024.0 / 1024:0.0} MiB");
        if (sink.Requests == 0)
            throw new InvalidOperationException("no span reached the OTLP sink: tracing was not on");
        _results.Metric("fanout_tracing_tps", rate);
    }

    // 1,000 runs of a 3-task chain, requested at once.
    async Task LumeSmallRunsAsync()
    {
        await using var lume = await LumeDeployment.StartAsync(4);
        var flow = ScaleFlows.Chain(3);
        await lume.RegisterAsync(flow);
        await RunAsync(await lume.ClientAsync(), flow.Name);
        await SmallRuns.MeasureAsync(lume.Bus, flow.Name, 100); // warm-up
        var cpu = CpuUse.Start(lume.Processes);
        var (rate, latencies) = await SmallRuns.MeasureAsync(lume.Bus, flow.Name, SmallRunCount);
        _results.Add($"Lume: {SmallRunCount:N0} runs of a 3-task chain requested at once, 4 workers",
            $"{rate:N0} runs/s; request to end {Statistics.Median(latencies):N0} ms median, {Statistics.Percentile(latencies, 99):N0} ms p99 " +
            $"(CPU ms per run: {cpu.PerUnit(SmallRunCount)})");
        _results.Metric("runs_per_s", rate);
        _results.Metric("runs_p50_ms", Statistics.Median(latencies));
        _results.Metric("runs_p99_ms", Statistics.Percentile(latencies, 99));
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
        if (quick)
            return;
        var fan = TasksPerSecond(await RunAsync(client, fanOut.Name));
        _results.Add($"Lume: static fan-out of {elements:N0} + fan-in, same deployment", $"{fan:N0} tasks/s");
    }

    async Task LumeGraphAsync()
    {
        var (seconds, rss) = await GraphAsync(ScaleFlows.FanOut(19_999), "20,000-task flow");
        _results.Metric("graph20k_s", seconds);
        _results.Metric("graph20k_rss_mb", rss);
    }

    // Two shapes of 100,000 tasks: one fan-out (every task ready at once), and 100 layers of 1,000 (a wave at a time).
    // The worse of the two stands for the figure.
    async Task LumeGraph100kAsync()
    {
        var fan = await GraphAsync(ScaleFlows.FanOut(99_999), "100,000-task fan-out");
        var layered = await GraphAsync(ScaleFlows.Layered(1000, 100), "100,000-task layered DAG (100 layers of 1,000)", ScaleFlows.Layered(1000, 2));
        _results.Metric("graph100k_s", Math.Max(fan.Seconds, layered.Seconds));
        _results.Metric("graph100k_rss_mb", Math.Max(fan.Rss, layered.Rss));
    }

    // One run of the flow in a fresh deployment of 4 workers: its time, and the Scheduler's peak resident set.
    async Task<(double Seconds, long Rss)> GraphAsync(FlowDefinition flow, string name, FlowDefinition? warmAs = null)
    {
        await using var lume = await LumeDeployment.StartAsync(workers: 4);
        await lume.RegisterAsync(flow);
        // Warm, as services run: a fan-out of the same task type teaches the Scheduler how quick it is on warm workers.
        // A run of 20 was too short for that: its attempts were the workers' first (the JIT's), and a wide step is
        // packed once, when it is released, by what the Scheduler knows then.
        var warm = warmAs ?? ScaleFlows.FanOut(999);
        await lume.RegisterAsync(warm);
        var client = await lume.ClientAsync();
        await RunAsync(client, warm.Name);
        await RunAsync(client, warm.Name);
        // Before the run, the Scheduler holds the registered flow (and what the warm-up left); the run adds the rest.
        var before = RssMiB(lume.Scheduler!.Id, "VmRSS:");
        var clock = Stopwatch.StartNew();
        var cpu = CpuUse.Start(lume.Processes);
        var run = await RunAsync(client, flow.Name);
        var seconds = clock.Elapsed.TotalSeconds;
        var rss = PeakRssMiB(lume.Scheduler.Id);
        _results.Add($"Lume: {name} ({run.Tasks.Count:N0} tasks, 4 workers)",
            $"{seconds:0.0} s, Scheduler RSS {before} MiB before the run, {rss} MiB peak (CPU ms per task: {cpu.PerUnit(run.Tasks.Count)})");
        return (seconds, rss);
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
            // One process runs everything here, so the warm-up matters more: ten seconds (the hop stops improving after
            // 10 to 15 s of chains when they run for a minute).
            var hops = await ChainHopsAsync(lume.Client, TimeSpan.FromSeconds(10));
            _results.Add("Lume embedded (in-memory): chain of 200, per hop", $"{Statistics.Median(hops):0.000} ms median, {Statistics.Percentile(hops, 99):0.000} ms p99");
            _results.Metric("embedded_chain_hop_ms", Statistics.Median(hops));
            await WarmAsync(() => RunAsync(lume.Client, fanOut.Name));
            var measured = await RunAsync(lume.Client, fanOut.Name);
            var rate = TasksPerSecond(measured);
            _results.Add($"Lume embedded (in-memory): fan-out of {FanOutWidth:N0} + fan-in", $"{rate:N0} tasks/s");
            _results.Metric("embedded_fanout_tps", rate);
        }
        finally
        {
            await lume.StopAsync();
            Directory.Delete(dataDir, recursive: true);
        }
    }

    // The hops of three chains of 200, after chains for <paramref name="warmFor"/>: the runtime recompiles hot code in the
    // background a while after it first runs it (tiered compilation, then again with what it profiled), and a measured
    // run must not catch it half done.
    static async Task<List<double>> ChainHopsAsync(RunClient client, TimeSpan warmFor)
    {
        await WarmAsync(() => RunAsync(client, "chain_200"), warmFor);
        var hops = new List<double>();
        for (var i = 0; i < 3; i++)
            hops.AddRange(Hops(await RunAsync(client, "chain_200")));
        return hops;
    }

    static async Task WarmAsync(Func<Task> run, TimeSpan? atLeast = null)
    {
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < 3 || clock.Elapsed < atLeast; i++)
            await run();
        await Task.Delay(TimeSpan.FromSeconds(1));
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
            var measured = await Celery.MeasureAsync(url, 200, FanOutWidth, SmallRunCount);
            _results.Add("Celery 5: chain of 200 trivial tasks, per step", $"{measured.ChainStepMs:0.0} ms");
            _results.Add($"Celery 5: group of {FanOutWidth:N0} trivial tasks", $"{measured.GroupTps:N0} tasks/s");
            _results.Add($"Celery 5: {SmallRunCount:N0} chains of 3 submitted at once", $"{measured.ChainsPerSecond:N0} chains/s; " +
                $"submit to result {measured.ChainsP50Ms:N0} ms median, {measured.ChainsP99Ms:N0} ms p99");
            _results.Metric("celery_step_ms", measured.ChainStepMs);
            _results.Metric("celery_group_tps", measured.GroupTps);
            _results.Metric("celery_chains_per_s", measured.ChainsPerSecond);
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

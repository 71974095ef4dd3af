using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Lume.Examples;
using Lume.Cli;
using Lume.Cli.Commands;
using Lume.Flows;
using Lume.Hosting;
using Microsoft.Playwright;

namespace Lume.Bench;

/// <summary>
/// <c>bench --ui</c>: the web view's run page of a 5,000-task run in headless Chromium. The view is hosted as
/// <c>lume ui</c> hosts it (Kestrel, the pages and the API, every service embedded on the in-memory transport); each
/// run is run to its end first, then its page is loaded <see cref="Loads"/> times, each in a fresh browser context
/// (no cache), after one load that is not counted. Measured: from navigation start to <c>performance.mark("lume:graph-ready")</c>.
/// </summary>
static class UiPage
{
    const int Loads = 5;

    /// <summary>The bar the run page is held to: a 5,000-task run's graph laid out within 2 s.</summary>
    const double BarMs = 2000;

    public static async Task MeasureAsync(Results results)
    {
        var layered = ScaleFlows.Layered(100, 50);
        var dataDir = Path.Combine(Path.GetTempPath(), "lume-bench", $"ui-{Guid.NewGuid():N}");
        using var lume = await StartAsync(dataDir, layered);
        var baseUrl = UiCommand.AddressOf(lume);
        using var api = new HttpClient { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromMinutes(5) };
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = FindChromium(), Headless = true });
        try
        {
            var measured = new List<(string Name, int Tasks, long Bytes, int Nodes, IReadOnlyList<double> Ms, IReadOnlyList<double> DataMs, IReadOnlyList<double> BusyMs)>();
            var runs = new (string Name, string Flow, object Parameters)[]
            {
                ($"{layered.Name} (100 wide, 50 deep)", layered.Name, new { }),
                ("map_square over 5,000 values", "map_square", new { values = Enumerable.Range(0, 5000).Select(i => i % 100).ToArray() }),
            };
            foreach (var (name, flow, parameters) in runs)
            {
                Console.Error.WriteLine($"bench: ui: running {flow}...");
                var runId = await RunToEndAsync(api, flow, parameters);
                var snapshot = await api.GetByteArrayAsync($"/api/runs/{runId}");
                var tasks = JsonDocument.Parse(snapshot).RootElement.GetProperty("tasks").GetArrayLength();
                Console.Error.WriteLine($"bench: ui: loading its page {Loads + 1} times...");
                await LoadAsync(browser, baseUrl, runId); // not counted: the first load meets a cold server
                var times = new List<double>();
                var data = new List<double>();
                var busy = new List<double>();
                var nodes = 0;
                for (var i = 0; i < Loads; i++)
                {
                    var (ms, dataMs, busyMs, drawn) = await LoadAsync(browser, baseUrl, runId);
                    times.Add(ms);
                    data.Add(dataMs);
                    busy.Add(busyMs);
                    nodes = drawn;
                }

                measured.Add((name, tasks, snapshot.LongLength, nodes, times, data, busy));
                results.Metric($"ui_{flow}_median_ms", Statistics.Median(times));
            }

            Console.WriteLine(Table(measured));
            foreach (var (name, tasks, bytes, nodes, ms, _, _) in measured)
                results.Add($"Web view: run page of {name}, {tasks:N0} tasks, {nodes:N0} nodes drawn, snapshot {bytes / 1024.0:N0} KiB",
                    $"{Statistics.Median(ms):N0} ms median, {ms.Max():N0} ms max to graph-ready ({Loads} loads; bar {BarMs:N0} ms: {(ms.Max() <= BarMs ? "met" : "NOT met")})");
        }
        finally
        {
            await lume.Host.StopAsync();
            if (Directory.Exists(dataDir))
                Directory.Delete(dataDir, recursive: true);
        }
    }

    static string Table(IEnumerable<(string Name, int Tasks, long Bytes, int Nodes, IReadOnlyList<double> Ms, IReadOnlyList<double> DataMs, IReadOnlyList<double> BusyMs)> rows)
    {
        var text = new System.Text.StringBuilder(
            $"| run page ({Loads} loads, headless Chromium) | tasks | snapshot | nodes drawn | median ms to the run's data (first byte) | median ms to graph-ready | max ms | bar | median main-thread busy ms |\n|---|---|---|---|---|---|---|---|---|\n");
        foreach (var (name, tasks, bytes, nodes, ms, data, busy) in rows)
            text.Append(CultureInfo.InvariantCulture,
                $"| {name} | {tasks:N0} | {bytes / 1024.0:N0} KiB | {nodes:N0} | {Statistics.Median(data):N0} | {Statistics.Median(ms):N0} | {ms.Max():N0} | {BarMs:N0} ms: {(ms.Max() <= BarMs ? "met" : "NOT met")} | {Statistics.Median(busy):N0} |\n");
        return text.ToString();
    }

    // One load in a fresh context: navigation start to the page's graph-ready mark, to the first byte of the run's data
    // (the snapshot, the first event of /api/runs/{id}/events, or GET /api/runs/{id}), the page's main-thread busy time
    // until then (Chromium's TaskDuration: less disturbed than the wall time on a busy machine), and the nodes drawn.
    static async Task<(double Ms, double DataMs, double BusyMs, int Nodes)> LoadAsync(IBrowser browser, string baseUrl, string runId)
    {
        await using var context = await browser.NewContextAsync(new() { ViewportSize = new() { Width = 1280, Height = 900 } });
        var page = await context.NewPageAsync();
        var cdp = await context.NewCDPSessionAsync(page);
        await cdp.SendAsync("Performance.enable");
        await page.GotoAsync($"{baseUrl}/runs/{runId}");
        await page.WaitForSelectorAsync("#graph[data-ready=\"true\"]", new() { State = WaitForSelectorState.Attached, Timeout = 120_000 });
        var ms = await page.EvaluateAsync<double>(
            "() => { const m = performance.getEntriesByName('lume:graph-ready'); if (m.length === 0) throw new Error('no lume:graph-ready mark'); return m[0].startTime; }");
        var dataMs = await page.EvaluateAsync<double>(
            "() => Math.max(0, ...performance.getEntriesByType('resource').filter(e => /\\/api\\/runs\\/[0-9a-f-]{36}(\\/events)?$/.test(new URL(e.name).pathname)).map(e => e.responseStart))");
        var metrics = await cdp.SendAsync("Performance.getMetrics");
        var busyMs = metrics!.Value.GetProperty("metrics").EnumerateArray()
            .Where(m => m.GetProperty("name").GetString() == "TaskDuration").Select(m => m.GetProperty("value").GetDouble() * 1000).FirstOrDefault(double.NaN);
        var nodes = await page.EvaluateAsync<int>("() => window.lume.graph.nodes().length");
        return (ms, dataMs, busyMs, nodes);
    }

    static async Task<string> RunToEndAsync(HttpClient api, string flow, object parameters)
    {
        using var response = await api.PostAsJsonAsync("/api/runs", new { flow, parameters });
        var body = await response.Content.ReadAsStringAsync();
        if ((int)response.StatusCode != 202)
            throw new InvalidOperationException($"POST /api/runs for {flow}: {(int)response.StatusCode} {body}");
        var runId = JsonDocument.Parse(body).RootElement.GetProperty("runId").GetString()!;
        var clock = Stopwatch.StartNew();
        while (true)
        {
            // The list, not the 5,000-task snapshot, to ask after the state.
            var list = JsonDocument.Parse(await api.GetStringAsync($"/api/runs?flow={flow}&limit=20")).RootElement;
            var state = list.EnumerateArray().FirstOrDefault(r => r.GetProperty("runId").GetString() == runId) is { ValueKind: JsonValueKind.Object } run
                ? run.GetProperty("state").GetString()
                : "running";
            if (state == "completed")
                return runId;
            if (state != "running")
                throw new InvalidOperationException($"the run of {flow} ended {state}");
            if (clock.Elapsed > TimeSpan.FromMinutes(10))
                throw new TimeoutException($"the run of {flow} still runs after 10 minutes");
            await Task.Delay(500);
        }
    }

    // Hosted as lume ui hosts it, on a free port, with the extra flow.
    static async Task<LumeHost> StartAsync(string dataDir, FlowDefinition extra)
    {
        var lume = UiCommand.BuildHost(0, new Dictionary<string, string?> { ["DATA_DIR"] = dataDir, ["BROKER"] = "" },
            b => b.Services.AddLumeFlow(extra));
        await lume.StartAsync(CancellationToken.None);
        return lume;
    }

    /// <summary>Debian's Chromium (scripts/browser-deps installs it), or LUME_CHROMIUM.</summary>
    static string FindChromium()
    {
        var path = Environment.GetEnvironmentVariable("LUME_CHROMIUM") is { Length: > 0 } configured ? configured : "/usr/bin/chromium";
        return File.Exists(path)
            ? path
            : throw new InvalidOperationException($"no Chromium at {path}: run scripts/browser-deps (sudo apt-get install chromium), or set LUME_CHROMIUM");
    }
}

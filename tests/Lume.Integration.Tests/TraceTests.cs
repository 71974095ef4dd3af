using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Lume.Hosting;
using Xunit.Abstractions;

namespace Lume.Integration.Tests;

/// <summary>One run is one trace, with one root, across every process that works on it.</summary>
[Collection("RabbitMQ")]
public sealed class TraceTests(ITestOutputHelper output) : IAsyncLifetime
{
    Cluster _cluster = null!;
    readonly ConcurrentBag<Span> _clientSpans = [];
    ActivityListener? _listener;

    sealed record Span(string Service, string TraceId, string SpanId, string? ParentId, string Name, IReadOnlyDictionary<string, string> Tags);

    public async Task InitializeAsync()
    {
        _cluster = await Cluster.CreateAsync(traceConsole: true);
        // The client is this test process: its spans (the root among them) are caught here, the services' from their stdout.
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is LumeTelemetry.Name or "MassTransit",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a => _clientSpans.Add(new Span("client", a.TraceId.ToHexString(), a.SpanId.ToHexString(),
                a.ParentSpanId == default ? null : a.ParentSpanId.ToHexString(), a.DisplayName,
                a.TagObjects.ToDictionary(t => t.Key, t => t.Value?.ToString() ?? ""))),
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public async Task DisposeAsync()
    {
        _listener?.Dispose();
        await _cluster.DisposeAsync();
    }

    /// <summary>Reads the blocks OpenTelemetry's console exporter wrote.</summary>
    static IEnumerable<Span> Parse(string text)
    {
        foreach (var block in text.Split("Activity.TraceId:", StringSplitOptions.RemoveEmptyEntries).Skip(1))
        {
            var lines = ("Activity.TraceId:" + block).Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
            string? Field(string name) => lines.FirstOrDefault(l => l.StartsWith(name, StringComparison.Ordinal))?[name.Length..].Trim();
            var tags = new Dictionary<string, string>();
            var inTags = false;
            string? service = null;
            foreach (var line in lines)
            {
                if (line.StartsWith("Activity.Tags:", StringComparison.Ordinal))
                    inTags = true;
                else if (!line.StartsWith("    ", StringComparison.Ordinal))
                    inTags = false;
                else if (inTags && line.IndexOf(':', StringComparison.Ordinal) is > 0 and var colon)
                    tags[line[..colon].Trim()] = line[(colon + 1)..].Trim();
                if (line.TrimStart().StartsWith("service.name:", StringComparison.Ordinal))
                    service = line.Split(':', 2)[1].Trim();
            }

            if (Field("Activity.SpanId:") is { } spanId && Field("Activity.TraceId:") is { } traceId)
                yield return new Span(service ?? "?", traceId, spanId, Field("Activity.ParentSpanId:"), Field("Activity.DisplayName:") ?? "?", tags);
        }
    }

    async Task<(Guid RunId, List<Span> Spans)> RunAndCollectAsync(string flow, Dictionary<string, JsonElement> parameters, Func<List<Span>, bool> complete)
    {
        var client = await _cluster.ClientAsync();
        var outcome = await client.RunAsync(flow, null, parameters).WaitAsync(TimeSpan.FromMinutes(3));
        Assert.True(outcome.Succeeded, outcome.Failure?.Message);
        var root = _clientSpans.Single(s => s.Name == $"run request {flow}" && s.Tags.GetValueOrDefault("lume.run_id") == outcome.RunId.ToString());

        // Services export each span as it ends; the last ones (the run span, the final acks) may trail the run's end a little.
        var deadline = DateTime.UtcNow.AddSeconds(20);
        List<Span> spans;
        do
        {
            await Task.Delay(200);
            spans = _clientSpans.Concat(_cluster.Services.SelectMany(s => Parse(s.Output))).Where(s => s.TraceId == root.TraceId).ToList();
        }
        while (!complete(spans) && DateTime.UtcNow < deadline);

        output.WriteLine($"{flow}: {spans.Count} spans in trace {root.TraceId}: " +
            string.Join(", ", spans.GroupBy(s => s.Service).Select(g => $"{g.Key} {g.Count()}")));
        return (outcome.RunId, spans);
    }

    static void AssertOneTree(List<Span> spans, Guid runId, IReadOnlyList<Span> everything)
    {
        var ids = spans.Select(s => s.SpanId).ToHashSet();
        var root = Assert.Single(spans, s => s.ParentId is null);
        Assert.Equal("client", root.Service);
        var orphans = spans.Where(s => s.ParentId is not null && !ids.Contains(s.ParentId)).Select(s => $"{s.Service}:{s.Name}").ToArray();
        Assert.True(orphans.Length == 0, $"spans whose parent is not in the trace: {string.Join(", ", orphans)}");
        // Nothing of this run went to another trace.
        Assert.All(everything.Where(s => s.Tags.GetValueOrDefault("lume.run_id") == runId.ToString()), s => Assert.Equal(root.TraceId, s.TraceId));
    }

    async Task StartAllAsync(int workers)
    {
        await _cluster.StartSchedulerAsync();
        await _cluster.StartFileServiceAsync();
        for (var i = 1; i <= workers; i++)
            await _cluster.StartWorkerAsync($"worker-{i}");
    }

    [Fact]
    public async Task Flow1_IsOneTraceWithOneRoot_SpanningClientSchedulerWorkerAndFileService()
    {
        await StartAllAsync(workers: 1);
        var parameters = new[] { ("text1", "Hello"), ("text2", "World"), ("filename", "hello.txt"), ("filesystem_identifier", "local") }
            .ToDictionary(p => p.Item1, p => JsonSerializer.SerializeToElement(p.Item2));
        string[] expected = ["task configure_lume_services", "task append_text", "task save_text_file", "run flow1", "file save"];

        var (runId, spans) = await RunAndCollectAsync("flow1", parameters, s => expected.All(e => s.Any(x => x.Name == e)));

        AssertOneTree(spans, runId, _cluster.Services.SelectMany(s => Parse(s.Output)).ToList());
        foreach (var name in expected)
            Assert.Contains(spans, s => s.Name == name);
        var save = spans.Single(s => s.Name == "task save_text_file");
        Assert.Equal("lume-examples-worker", save.Service);
        Assert.Equal(runId.ToString(), save.Tags["lume.run_id"]);
        Assert.Equal(("flow1", "save_text_file", "1", "worker-1"), (save.Tags["lume.flow"], save.Tags["lume.task_slug"], save.Tags["lume.attempt"], save.Tags["lume.worker"]));
        Assert.Equal("lume-scheduler", spans.Single(s => s.Name == "run flow1").Service);
        Assert.Equal("lume-fileservice", spans.Single(s => s.Name == "file save").Service);
        // The file save happens inside the task that asked for it.
        var fileSave = spans.Single(s => s.Name == "file save");
        var byId = spans.ToDictionary(s => s.SpanId);
        var ancestor = fileSave;
        while (ancestor.ParentId is not null && ancestor.SpanId != save.SpanId)
            ancestor = byId[ancestor.ParentId];
        Assert.Equal(save.SpanId, ancestor.SpanId);
    }

    [Fact]
    public async Task AFanOut_IsOneTraceWithOneRoot_EvenWhereTheSchedulerReleasesTasksInReactionToOthers()
    {
        await StartAllAsync(workers: 2);
        var expected = Enumerable.Range(1, 20).Select(i => $"task item-{i}").Append("task gather").Append("run fanout_20").ToArray();

        var (runId, spans) = await RunAndCollectAsync("fanout_20", [], s => expected.All(e => s.Any(x => x.Name == e)));

        AssertOneTree(spans, runId, _cluster.Services.SelectMany(s => Parse(s.Output)).ToList());
        foreach (var name in expected)
            Assert.Single(spans, s => s.Name == name);
        Assert.Equal(2, spans.Where(s => s.Name.StartsWith("task ", StringComparison.Ordinal)).Select(s => s.Tags["lume.worker"]).Distinct().Count());
    }
}

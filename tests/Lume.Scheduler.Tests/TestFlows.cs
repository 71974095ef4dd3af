using System.Text.Json;
using Lume.Contracts;
using Lume.Flows;

namespace Lume.Scheduler.Tests;

static class TestFlows
{
    /// <summary>a feeds b and c, which both feed d.</summary>
    public static readonly FlowDefinition Diamond = Flow.Define("diamond", f =>
    {
        var a = f.Task("step", new { value = f.Parameter("start") }, name: "a");
        var b = f.Task("step", new { value = a }, name: "b");
        var c = f.Task("step", new { value = a }, name: "c");
        f.Task("join", new { left = b, right = c }, name: "d");
    });

    /// <summary>flow1's shape: save waits for append's output and, by set_upstream alone, for configure.</summary>
    public static readonly FlowDefinition Upstream = Flow.Define("upstream", f =>
    {
        var configure = f.Task("configure_lume_services");
        var text = f.Task("append_text", new { text1 = f.Parameter("text1"), text2 = "!" });
        f.Task("save_file", new { obj = text }, name: "save").SetUpstream(configure);
    });

    /// <summary>fails in "bad"; "after" depends on it and "after2" on that; "side" is independent.</summary>
    public static readonly FlowDefinition Branches = Flow.Define("branches", f =>
    {
        var bad = f.Task("step", name: "bad");
        var after = f.Task("step", new { value = bad }, name: "after");
        f.Task("step", new { value = after }, name: "after2");
        f.Task("step", name: "side");
    });

    public static JsonElement Json(object? value) => JsonSerializer.SerializeToElement(value);

    public static Dictionary<string, JsonElement> Parameters(params (string Name, object? Value)[] values) =>
        values.ToDictionary(v => v.Name, v => Json(v.Value));

    public static TaskCompleted Completed(Guid runId, string slug, object? result, int attempt = 1) =>
        new(runId, slug, attempt, Json(result), "test-worker", DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddSeconds(1));

    public static TaskFailed Failed(Guid runId, string slug, int attempt = 1) =>
        new(runId, slug, attempt, "InvalidOperationException", $"{slug} broke", false, "test-worker", DateTimeOffset.UnixEpoch);
}

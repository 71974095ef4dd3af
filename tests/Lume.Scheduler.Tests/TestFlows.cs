using System.Text.Json;
using Lume.Contracts;
using Lume.Flows;
using Lume.Scheduler.Runs;

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

    /// <summary>The tasks a step released, by slug, in order.</summary>
    public static string[] Ready(Step step) => step.Messages.OfType<TaskReady>().Select(t => t.TaskSlug).Order().ToArray();

    public static Dictionary<string, JsonElement> Parameters(params (string Name, object? Value)[] values) =>
        values.ToDictionary(v => v.Name, v => Json(v.Value));

    /// <summary>The report the holder of the task's current attempt would send (another attempt's number, if given).</summary>
    public static TaskCompleted Completed(RunRecord run, string slug, object? result, int? attempt = null) =>
        new(run.RunId, slug, attempt ?? run.Tasks[slug].Attempt, run.Tasks[slug].Token, Json(result), "test-worker",
            DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddSeconds(1));

    /// <summary>A failure report of the task's current attempt; <paramref name="retryable"/> as the worker judged it.</summary>
    public static TaskFailed Failed(RunRecord run, string slug, bool retryable = false, string errorType = "InvalidOperationException") =>
        new(run.RunId, slug, run.Tasks[slug].Attempt, run.Tasks[slug].Token, errorType, $"{slug} broke", retryable, "test-worker", DateTimeOffset.UnixEpoch);
}

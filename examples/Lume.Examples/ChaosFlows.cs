using System.Globalization;
using System.Text;
using Lume.Flows;
using Lume.Tasks;
using Microsoft.Extensions.Configuration;

namespace Lume.Examples;

/// <summary>
/// Flows for the chaos test and <c>scripts/soak</c>: every execution of their <c>chaos_step</c> task appends a line to an
/// execution log, so a test counts what really ran from the tasks' own side.
/// </summary>
public static class ChaosFlows
{
    /// <summary>Twenty steps in a row.</summary>
    public static readonly FlowDefinition Chain = Flow.Define("chaos_chain", f =>
    {
        var previous = f.Task("chaos_step", new { value = f.Parameter("start", 0) }, name: "step-1");
        for (var i = 2; i <= 20; i++)
            previous = f.Task("chaos_step", new { value = previous }, name: $"step-{i}");
    });

    /// <summary>200 independent steps, then one that gathers their results.</summary>
    public static readonly FlowDefinition FanOut = Flow.Define("chaos_fanout", f =>
    {
        var items = Enumerable.Range(1, 200)
            .ToDictionary(i => $"item-{i}", object? (i) => f.Task("chaos_step", new { value = i }, name: $"item-{i}"));
        f.Task("gather", items, name: "gather");
    });

    /// <summary>A step whose first two attempts fail with an IOException; it is retried up to three times.</summary>
    public static readonly FlowDefinition Retry = Flow.Define("chaos_retry", f =>
    {
        var flaky = f.Task("chaos_step", new { value = 1, fail_attempts = 2 }, name: "flaky").Retry(3, TimeSpan.FromMilliseconds(200), backoff: 2);
        f.Task("chaos_step", new { value = flaky }, name: "after");
    });

    /// <summary>A step whose first attempt sleeps past its 2 s timeout; a timed-out attempt is retried once.</summary>
    public static readonly FlowDefinition Timeout = Flow.Define("chaos_timeout", f =>
    {
        var sleepy = f.Task("chaos_step", new { value = 1, slow_attempts = 1, seconds = 60.0 }, name: "sleepy")
            .Timeout(TimeSpan.FromSeconds(2)).Retry(1, on: Contracts.TaskErrors.TimedOut);
        f.Task("chaos_step", new { value = sleepy }, name: "after");
    });

    /// <summary>How many one-second steps chaos_slow has.</summary>
    public const int SlowSteps = 60;

    /// <summary>
    /// Steps of one second each, to be cancelled midway. Sixty, so that a cancel sent a few seconds in still comes
    /// midway on a machine busy enough to start a run late (a run that ends first would not show the cancel working):
    /// under the whole test suite a CI machine once let the chaos test's runs reach step 19 before its cancel arrived.
    /// </summary>
    public static readonly FlowDefinition Slow = Flow.Define("chaos_slow", f =>
    {
        var previous = f.Task("chaos_step", new { value = 0, slow_attempts = 1000, seconds = 1.0 }, name: "slow-1");
        for (var i = 2; i <= SlowSteps; i++)
            previous = f.Task("chaos_step", new { value = previous, slow_attempts = 1000, seconds = 1.0 }, name: $"slow-{i}");
    });

    /// <summary>Forty steps of 0.3 s in a row: work in flight on the workers while faults happen.</summary>
    public static readonly FlowDefinition Busy = Flow.Define("chaos_busy", f =>
    {
        var previous = f.Task("chaos_step", new { value = 0, slow_attempts = 1000, seconds = 0.3 }, name: "busy-1");
        for (var i = 2; i <= 40; i++)
            previous = f.Task("chaos_step", new { value = previous, slow_attempts = 1000, seconds = 0.3 }, name: $"busy-{i}");
    });

    /// <summary>Sixty steps of 0.2 s side by side: a queue of tasks waiting for the workers while one of them stops.</summary>
    public static readonly FlowDefinition Wide = Flow.Define("chaos_wide", f =>
    {
        for (var i = 1; i <= 60; i++)
            f.Task("chaos_step", new { value = i, slow_attempts = 1000, seconds = 0.2 }, name: $"wide-{i}");
    });

    /// <summary>A step mapped over 100 values, another mapped over its results element by element, then a gather of the list.</summary>
    public static readonly FlowDefinition Map = Flow.Define("chaos_map", f =>
    {
        var first = f.Map("chaos_step", new { value = f.Parameter("values", Enumerable.Range(1, 100).ToArray()) }, name: "first");
        var second = f.Map("chaos_step", new { value = first }, name: "second");
        f.Task("gather", new { values = second }, name: "gather");
    });

    /// <summary>chaos_slow as a subflow: cancelling this run cancels that one.</summary>
    public static readonly FlowDefinition SlowSubflow = Flow.Define("chaos_subflow", f => f.Subflow("chaos_slow", name: "slow"));

    public static IReadOnlyList<FlowDefinition> All { get; } = [Chain, FanOut, Retry, Timeout, Slow, Busy, Wide, Map, SlowSubflow];
}

/// <summary>
/// <c>chaos_step</c>: appends "run slug attempt worker pid unix-ms" to a file of this process in the folder
/// <c>LUME_EXAMPLES__EXECUTION_LOG</c> names (if set),
/// then fails with an IOException while the attempt is at most <c>fail_attempts</c>, sleeps <c>seconds</c> while it is at
/// most <c>slow_attempts</c> (honouring cancellation), and returns <c>value + 1</c>.
/// </summary>
public sealed class ChaosStepTask(IConfiguration configuration, TimeProvider time) : ILumeTask
{
    // A file per process, written under a lock: appends from several processes to one file can overwrite each other.
    static readonly Lock Writing = new();

    public async Task<object?> RunAsync(TaskArguments arguments, TaskContext context)
    {
        if (configuration["EXAMPLES:EXECUTION_LOG"] is { Length: > 0 } folder)
        {
            var worker = configuration["WORKER:NAME"] ?? "worker";
            var line = string.Create(CultureInfo.InvariantCulture, $"{context.RunId} {context.TaskSlug} {context.Attempt} {worker} {Environment.ProcessId} {time.GetUtcNow().ToUnixTimeMilliseconds()}\n");
            lock (Writing)
            {
                Directory.CreateDirectory(folder);
                File.AppendAllText(Path.Combine(folder, $"{worker}-{Environment.ProcessId}.log"), line, Encoding.UTF8);
            }
        }

        if (context.Attempt <= arguments.Get("fail_attempts", 0))
            throw new IOException($"chaos: attempt {context.Attempt} of '{context.TaskSlug}' fails on purpose");
        if (context.Attempt <= arguments.Get("slow_attempts", 0))
            await Task.Delay(TimeSpan.FromSeconds(arguments.Get("seconds", 0.0)), time, context.CancellationToken);
        return arguments.Get<long>("value") + 1;
    }
}

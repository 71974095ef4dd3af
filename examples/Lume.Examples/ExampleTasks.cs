using System.Text.Json;
using Lume.Contracts;
using Lume.Tasks;
using MassTransit;

namespace Lume.Examples;

/// <summary>The tasks of the example flows.</summary>
public static class ExampleTasks
{
    /// <summary><paramref name="text"/> <paramref name="times"/> times over: a result as large as asked for.</summary>
    public static string RepeatText(string text, int times) => string.Concat(Enumerable.Repeat(text, times));

    /// <summary>Upstream <c>append_text</c>.</summary>
    public static string AppendText(string text1, string text2) => text1 + text2;

    /// <summary>Upstream flow3's check.</summary>
    public static bool CheckTextEquivalence(string text1, string text2) => string.Equals(text1, text2, StringComparison.Ordinal);

    /// <summary>Always throws, for the failing flow.</summary>
    public static string RaiseError(string message) => throw new InvalidOperationException(message);

    /// <summary>flow2's result: the text as input1 and output1 of a generic Result; save_db_result fills in its flow_id.</summary>
    public static object MakeTextResult(string text) => new { inputs = new { input1 = text }, outputs = new { output1 = text } };

    /// <summary>The chain's step.</summary>
    public static long Increment(long value) => value + 1;

    /// <summary>map_square's mapped step: one element squared.</summary>
    public static double Square(double x) => x * x;

    /// <summary>map_square's reduce: the sum of the list the mapped step made.</summary>
    public static double Sum(double[] values) => values.Sum();

    /// <summary>The fan-out's item.</summary>
    public static JsonElement Identity(JsonElement value) => value;
}

/// <summary>The fan-in: takes any number of arguments and reports how many, and the sum of the numeric ones.</summary>
public sealed class GatherTask : ILumeTask
{
    public Task<object?> RunAsync(TaskArguments arguments, TaskContext context) => Task.FromResult<object?>(new
    {
        count = arguments.Values.Count,
        sum = arguments.Values.Values.Where(v => v.ValueKind == JsonValueKind.Number).Sum(v => v.GetDouble()),
    });
}

/// <summary>Waits <c>seconds</c>, then saves <c>text</c> as a TextFile on the local filesystem, returning the file rep.</summary>
public sealed class SlowSaveTextTask(IRequestClient<SaveFile> files, TimeProvider time) : ILumeTask
{
    public async Task<object?> RunAsync(TaskArguments arguments, TaskContext context)
    {
        await Task.Delay(TimeSpan.FromSeconds(arguments.Get<double>("seconds")), time, context.CancellationToken);
        var request = new SaveFile("local", arguments.Get<string>("filename"), "TextFile", arguments.Get<JsonElement>("text"), CreateDir: true, Overwrite: true);
        var response = await files.GetResponse<FileSaved, FileRequestFailed>(request, context.CancellationToken);
        return response.Message switch
        {
            FileSaved saved => saved.File,
            FileRequestFailed failed => throw new TaskFailedException(failed.ErrorType, failed.Message),
            _ => null,
        };
    }
}

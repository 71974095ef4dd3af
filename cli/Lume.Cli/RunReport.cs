using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lume.Contracts;
using Spectre.Console;

namespace Lume.Cli;

/// <summary>How a run is shown: lines as tasks start and finish, then a summary; or one JSON object.</summary>
public sealed class RunReport(IAnsiConsole console) : IRunObserver
{
    public void TaskStarted(TaskStarted message) =>
        console.MarkupLine($"[grey]>[/] {Markup.Escape(message.TaskSlug)} [grey]started on {Markup.Escape(message.Worker)}[/]");

    public void TaskCompleted(TaskCompleted message) =>
        console.MarkupLine($"[green]✓[/] {Markup.Escape(message.TaskSlug)} [grey]completed in {Duration(message.FinishedAt - message.StartedAt)}[/]");

    public void TaskFailed(TaskFailed message) =>
        console.MarkupLine($"[red]✗[/] {Markup.Escape(message.TaskSlug)} [red]failed: {Markup.Escape(message.ErrorType)}: {Markup.Escape(message.Message)}[/]");

    /// <summary>The final state, how long the run took, and the results of the flow's last tasks (those nothing depends on).</summary>
    public void Summary(RunOutcome outcome)
    {
        var snapshot = outcome.Snapshot!;
        var colour = outcome.Succeeded ? "green" : "red";
        console.MarkupLine(
            $"[{colour}]Run {outcome.RunId} of {Markup.Escape(snapshot.Flow)} {snapshot.State}[/] in {Duration(outcome.Elapsed)}");
        if (outcome.Cancellation is { } cancelled)
        {
            console.MarkupLine($"[yellow]cancelled: {Markup.Escape(cancelled.Reason)}[/]");
            return;
        }

        if (outcome.Failure is { } failure)
        {
            console.MarkupLine($"[red]{Markup.Escape(failure.ErrorType)}: task '{Markup.Escape(failure.FailedTask ?? "?")}' failed: " +
                $"{Markup.Escape(snapshot.Error ?? failure.Message)}[/]");
            foreach (var skipped in snapshot.Tasks.Where(t => t.State == TaskState.Skipped))
                console.MarkupLine($"[grey]- {Markup.Escape(skipped.Slug)} skipped[/]");
            return;
        }

        foreach (var task in snapshot.Tasks.Where(t => !t.HasDownstream))
            console.Profile.Out.Writer.WriteLine($"{task.Slug}: {(task.Result is { } result ? Compact(result) : "null")}");
    }

    /// <summary>The JSON form shared by <c>lume run --json</c> and later <c>lume runs show --json</c>.</summary>
    public static JsonObject ToJson(RunSnapshot snapshot)
    {
        var tasks = new JsonObject();
        foreach (var task in snapshot.Tasks)
        {
            var entry = new JsonObject
            {
                ["state"] = WireEnumConverter<TaskState>.Name(task.State),
                ["result"] = task.Result is { } result ? JsonSerializer.SerializeToNode(result) : null,
            };
            if (task.Error is not null)
                entry["error"] = $"{task.ErrorType}: {task.Error}";
            if (task.SubflowRunId is { } child)
                entry["subflow_run_id"] = child.ToString();
            tasks[task.Slug] = entry;
        }

        var run = new JsonObject
        {
            ["run_id"] = snapshot.RunId.ToString(),
            ["flow"] = snapshot.Flow,
            ["state"] = WireEnumConverter<RunState>.Name(snapshot.State),
        };
        if (snapshot.ParentRunId is { } parent)
        {
            run["parent_run_id"] = parent.ToString();
            run["parent_task"] = snapshot.ParentTask;
        }

        run["tasks"] = tasks;
        return run;
    }

    // Plain UTF-8 JSON, escaping only what JSON requires: "+00:00" stays "+00:00", not "\u002B00:00", for people and scripts alike.
    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    static readonly JsonSerializerOptions OneLine = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Indented JSON for output.</summary>
    public static string Write(JsonNode node) => node.ToJsonString(Indented);

    /// <summary>One-line JSON for output.</summary>
    public static string Compact(object value) => JsonSerializer.Serialize(value, OneLine);

    /// <summary>A run's, task's or attempt's state by its wire name, coloured.</summary>
    public static string StateMarkup<TState>(TState state) where TState : struct, Enum => StateMarkup(WireEnumConverter<TState>.Name(state));

    public static string StateMarkup(string state) => state switch
    {
        "completed" => "[green]completed[/]",
        "failed" => "[red]failed[/]",
        "skipped" => "[grey]skipped[/]",
        "cancelled" => "[yellow]cancelled[/]",
        "timed_out" => "[red]timed_out[/]",
        "trigger_failed" => "[red]trigger_failed[/]",
        "paused" => "[yellow]paused[/]",
        "cached" => "[green]cached[/]",
        "retrying" => "[yellow]retrying[/]",
        "mapped" => "[blue]mapped[/]",
        _ => Markup.Escape(state),
    };

    public static string Duration(TimeSpan time) => time.TotalSeconds >= 1
        ? string.Create(CultureInfo.InvariantCulture, $"{time.TotalSeconds:0.00} s")
        : string.Create(CultureInfo.InvariantCulture, $"{time.TotalMilliseconds:0} ms");
}

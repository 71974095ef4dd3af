using System.ComponentModel;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lume.Cli.Commands;

/// <summary><c>lume runs</c>: the most recent runs, newest first.</summary>
public sealed class RunsCommand(IAnsiConsole console) : AsyncCommand<RunsCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("-n|--limit <N>")]
        [Description("How many runs to list (default 20)")]
        public int Limit { get; init; } = 20;

        [CommandOption("--json")]
        [Description("Print the runs as JSON")]
        public bool Json { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        using var lume = LumeHost.Build();
        await lume.StartAsync(cancellationToken);
        try
        {
            var runs = await lume.Client.ListAsync(settings.Limit, cancellationToken);
            if (settings.Json)
            {
                var list = new JsonArray(runs.Select(r => (JsonNode)new JsonObject
                {
                    ["run_id"] = r.RunId.ToString(),
                    ["flow"] = r.Flow,
                    ["version"] = r.Version,
                    ["state"] = r.State,
                    ["created_at"] = r.CreatedAt.ToString("O", CultureInfo.InvariantCulture),
                    ["finished_at"] = r.FinishedAt?.ToString("O", CultureInfo.InvariantCulture),
                }).ToArray());
                console.Profile.Out.Writer.WriteLine(RunReport.Write(list));
                return 0;
            }

            var table = new Table().AddColumns("Run", "Flow", "State", "Started (UTC)", "Took");
            foreach (var run in runs)
                table.AddRow(
                    run.RunId.ToString(),
                    Markup.Escape($"{run.Flow} {run.Version}"),
                    RunReport.StateMarkup(run.State),
                    run.CreatedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
                    run.FinishedAt is { } end ? RunReport.Duration(end - run.CreatedAt) : "");
            console.Write(table);
            return 0;
        }
        finally
        {
            await lume.StopAsync();
        }
    }
}

/// <summary><c>lume runs show RUN_ID</c>: a run's tasks, their states and results.</summary>
public sealed class RunsShowCommand(IAnsiConsole console) : AsyncCommand<RunsShowCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<RUN_ID>")]
        [Description("The run id that lume run printed")]
        public string RunId { get; init; } = "";

        [CommandOption("--json")]
        [Description("Print the run as JSON, in the shape of lume run --json")]
        public bool Json { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(settings.RunId, out var runId))
        {
            Console.Error.WriteLine($"error: '{settings.RunId}' is not a run id (a GUID, as lume run and lume runs print)");
            return RunCommand.Rejected;
        }

        using var lume = LumeHost.Build();
        await lume.StartAsync(cancellationToken);
        try
        {
            var snapshot = await lume.Client.GetAsync(runId, cancellationToken);
            if (snapshot is null)
            {
                Console.Error.WriteLine($"error: run {runId} is not known to the Scheduler");
                return RunCommand.Rejected;
            }

            if (settings.Json)
            {
                console.Profile.Out.Writer.WriteLine(RunReport.Write(RunReport.ToJson(snapshot)));
                return 0;
            }

            console.MarkupLine($"Run {snapshot.RunId} of {Markup.Escape(snapshot.Flow)} {Markup.Escape(snapshot.Version)}: {RunReport.StateMarkup(snapshot.State)}");
            var table = new Table().AddColumns("Task", "State", "Took", "Worker", "Result or error");
            foreach (var task in snapshot.Tasks)
                table.AddRow(
                    Markup.Escape(task.Slug),
                    RunReport.StateMarkup(task.State),
                    task is { StartedAt: { } start, FinishedAt: { } end } ? RunReport.Duration(end - start) : "",
                    Markup.Escape(task.Worker ?? ""),
                    Markup.Escape(task.Error is not null ? $"{task.ErrorType}: {task.Error}" : task.Result is { } r ? JsonSerializer.Serialize(r) : ""));
            console.Write(table);
            return 0;
        }
        finally
        {
            await lume.StopAsync();
        }
    }
}

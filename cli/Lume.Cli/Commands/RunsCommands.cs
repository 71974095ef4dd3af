using Lume.Contracts;
using System.ComponentModel;
using System.Globalization;
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
        [Description("How many runs to list, 1 to 10000 (default 20)")]
        public string? LimitText { get; init; }

        public int Limit => CliInput.Count(LimitText, "-n/--limit", 20, 1, 10_000).Value;

        public override ValidationResult Validate() => CliInput.Validate(CliInput.Count(LimitText, "-n/--limit", 20, 1, 10_000).Problem);

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
                    ["state"] = WireEnumConverter<RunState>.Name(r.State),
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
        var snapshot = await FetchAsync(settings.RunId, cancellationToken);
        if (snapshot is null)
            return RunCommand.Rejected;
        if (settings.Json)
        {
            console.Profile.Out.Writer.WriteLine(RunReport.Write(RunReport.ToJson(snapshot)));
            return 0;
        }

        console.MarkupLine($"Run {snapshot.RunId} of {Markup.Escape(snapshot.Flow)} {Markup.Escape(snapshot.Version)}: {RunReport.StateMarkup(snapshot.State)}");
        if (snapshot.ParentRunId is { } parent)
            console.MarkupLine($"[grey]a subflow run of task '{Markup.Escape(snapshot.ParentTask ?? "")}' of run {parent} (lume runs show {parent})[/]");
        var table = new Table().AddColumns("Task", "State", "Attempt", "Took", "Worker", "Result or error");
        foreach (var task in snapshot.Tasks)
        {
            // Earlier attempts first, each with how it ended, so a retried task's history reads top to bottom.
            foreach (var past in task.PastAttempts ?? [])
                table.AddRow(
                    "",
                    $"[grey]{WireEnumConverter<AttemptOutcome>.Name(past.Outcome)}[/]",
                    past.Attempt.ToString(CultureInfo.InvariantCulture),
                    past is { StartedAt: { } ps, FinishedAt: { } pe } ? RunReport.Duration(pe - ps) : "",
                    Markup.Escape(past.Worker ?? ""),
                    $"[grey]{Markup.Escape($"{past.ErrorType}: {past.Error}")}[/]");
            table.AddRow(
                Markup.Escape(task.Slug),
                RunReport.StateMarkup(task.State),
                task.Attempt == 0 ? "" : task.Attempt.ToString(CultureInfo.InvariantCulture),
                task is { StartedAt: { } start, FinishedAt: { } end } ? RunReport.Duration(end - start) : "",
                Markup.Escape(task.SubflowRunId is { } child ? $"subflow run {child}" : task.Worker ?? ""),
                Markup.Escape(task.RetryAt is { } retryAt
                    ? $"{task.ErrorType}: {task.Error} (next attempt at {retryAt.UtcDateTime:HH:mm:ss} UTC)"
                    : task.Error is not null ? $"{task.ErrorType}: {task.Error}" : task.Result is { } r ? RunReport.Compact(r) : ""));
        }

        console.Write(table);
        return 0;
    }

    /// <summary>Reads a run id from the command line; false (after saying why on stderr) when it is not one.</summary>
    public static bool TryRunId(string text, out Guid runId)
    {
        if (Guid.TryParse(text, out runId))
            return true;
        Console.Error.WriteLine($"error: '{text}' is not a run id (a GUID, as lume run and lume runs print)");
        return false;
    }

    /// <summary>The stored state of a run named on the command line; null (after saying why on stderr) when there is none.</summary>
    public static async Task<Contracts.RunSnapshot?> FetchAsync(string runIdText, CancellationToken cancellationToken)
    {
        if (!TryRunId(runIdText, out var runId))
            return null;

        using var lume = LumeHost.Build();
        await lume.StartAsync(cancellationToken);
        try
        {
            var snapshot = await lume.Client.GetAsync(runId, cancellationToken);
            if (snapshot is null)
                Console.Error.WriteLine($"error: run {runId} is not known to the Scheduler");
            return snapshot;
        }
        finally
        {
            await lume.StopAsync();
        }
    }
}

/// <summary><c>lume runs cancel RUN_ID</c>: cancels a run; its running tasks see their cancellation token fire, the others never start.</summary>
public sealed class RunsCancelCommand(IAnsiConsole console) : AsyncCommand<RunsCancelCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<RUN_ID>")]
        [Description("The run id that lume run printed")]
        public string RunId { get; init; } = "";

        [CommandOption("--reason <TEXT>")]
        [Description("Why, as the run will say (default: cancelled by a user)")]
        public string Reason { get; init; } = "cancelled by a user";
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        if (!RunsShowCommand.TryRunId(settings.RunId, out var runId))
            return RunCommand.Rejected;

        using var lume = LumeHost.Build();
        await lume.StartAsync(cancellationToken);
        try
        {
            var snapshot = await lume.Client.CancelAsync(runId, settings.Reason, cancellationToken);
            if (snapshot is null)
            {
                Console.Error.WriteLine($"error: run {runId} is not known to the Scheduler");
                return RunCommand.Rejected;
            }

            console.MarkupLine(snapshot.State == RunState.Cancelled
                ? $"Run {runId} cancelled: {Markup.Escape(snapshot.Error ?? settings.Reason)}"
                : $"Run {runId} had already ended: {RunReport.StateMarkup(snapshot.State)}");
            return 0;
        }
        finally
        {
            await lume.StopAsync();
        }
    }
}

/// <summary><c>lume runs approve RUN_ID TASK</c>: releases a task that waits for approval (trigger manual_only).</summary>
public sealed class RunsApproveCommand(IAnsiConsole console) : AsyncCommand<RunsApproveCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<RUN_ID>")]
        [Description("The run id that lume run printed")]
        public string RunId { get; init; } = "";

        [CommandArgument(1, "<TASK>")]
        [Description("The task that waits for approval (runs show lists it as paused)")]
        public string Task { get; init; } = "";
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        if (!RunsShowCommand.TryRunId(settings.RunId, out var runId))
            return RunCommand.Rejected;

        using var lume = LumeHost.Build();
        if (lume.IsEmbedded)
        {
            // An embedded run lives in the process of its lume run; another process cannot reach its queue.
            Console.Error.WriteLine("error: lume runs approve needs the distributed services (set LUME_BROKER): " +
                "an embedded run's tasks live in the process of its lume run");
            return RunCommand.Rejected;
        }

        await lume.StartAsync(cancellationToken);
        try
        {
            var approval = await lume.Client.ApproveAsync(runId, settings.Task, cancellationToken);
            if (approval is null)
            {
                Console.Error.WriteLine($"error: run {runId} is not known to the Scheduler");
                return RunCommand.Rejected;
            }

            if (!approval.Approved)
            {
                Console.Error.WriteLine($"error: run {runId}: {approval.Reason}");
                return RunCommand.Rejected;
            }

            console.MarkupLine($"Approved: {Markup.Escape(approval.Reason)} (run {runId})");
            return 0;
        }
        finally
        {
            await lume.StopAsync();
        }
    }
}

/// <summary>
/// <c>lume runs trace RUN_ID</c>: the run's timeline from the Scheduler's stored state, as a waterfall: when each task was
/// released, how long it waited for a worker, and how long it ran. Where time went, without a tracing tool.
/// </summary>
public sealed class RunsTraceCommand(IAnsiConsole console) : AsyncCommand<RunsTraceCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<RUN_ID>")]
        [Description("The run id that lume run printed")]
        public string RunId { get; init; } = "";

        [CommandOption("--width <COLUMNS>")]
        [Description("Width of the waterfall bars, 10 to 200 (default 40)")]
        public string? WidthText { get; init; }

        public int Width => CliInput.Count(WidthText, "--width", 40, 10, 200).Value;

        public override ValidationResult Validate() => CliInput.Validate(CliInput.Count(WidthText, "--width", 40, 10, 200).Problem);
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var snapshot = await RunsShowCommand.FetchAsync(settings.RunId, cancellationToken);
        if (snapshot is null)
            return RunCommand.Rejected;
        console.Profile.Out.Writer.WriteLine(Waterfall(snapshot, settings.Width));
        return 0;
    }

    /// <summary>The timeline as text: one line per task in order of release, "." waiting for a worker, "#" running.</summary>
    public static string Waterfall(Contracts.RunSnapshot run, int width)
    {
        var start = run.CreatedAt;
        var end = run.FinishedAt ?? run.Tasks.Select(t => t.FinishedAt ?? t.StartedAt ?? t.ReadyAt).Where(t => t is not null).DefaultIfEmpty(start).Max()!.Value;
        var span = Math.Max((end - start).TotalMilliseconds, 1);
        int Column(DateTimeOffset at) => (int)Math.Clamp(Math.Round((at - start).TotalMilliseconds / span * width), 0, width);
        var slugWidth = Math.Min(run.Tasks.Select(t => t.Slug.Length).DefaultIfEmpty(4).Max(), 40);
        var text = new System.Text.StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"Run {run.RunId} of {run.Flow} {run.Version}: {WireEnumConverter<RunState>.Name(run.State)}, {RunReport.Duration(end - start)}");
        text.AppendLine(CultureInfo.InvariantCulture, $"{"task".PadRight(slugWidth)}  {"released",9}  {"waited",9}  {"ran",9}  |{new string(' ', width)}|");
        foreach (var task in run.Tasks.OrderBy(t => t.ReadyAt ?? DateTimeOffset.MaxValue).ThenBy(t => t.StartedAt ?? DateTimeOffset.MaxValue))
        {
            var bar = new char[width];
            Array.Fill(bar, ' ');
            if (task.ReadyAt is { } ready)
            {
                var started = task.StartedAt ?? task.FinishedAt ?? end;
                for (var i = Column(ready); i < Math.Max(Column(started), Column(ready) + 1) && i < width; i++)
                    bar[i] = '.';
                if (task.StartedAt is { } s)
                    for (var i = Column(s); i < Math.Max(Column(task.FinishedAt ?? end), Column(s) + 1) && i < width; i++)
                        bar[i] = '#';
            }

            string Offset(DateTimeOffset? at) => at is { } t ? RunReport.Duration(t - start) : "";
            string Between(DateTimeOffset? from, DateTimeOffset? to) => from is { } f && to is { } t ? RunReport.Duration(t - f) : "";
            var slug = task.Slug.Length > slugWidth ? task.Slug[..(slugWidth - 1)] + "~" : task.Slug.PadRight(slugWidth);
            text.AppendLine(CultureInfo.InvariantCulture,
                $"{slug}  {Offset(task.ReadyAt),9}  {Between(task.ReadyAt, task.StartedAt),9}  {Between(task.StartedAt, task.FinishedAt),9}  |{new string(bar)}| {WireEnumConverter<TaskState>.Name(task.State)}{(task.Attempt > 1 ? $" (attempt {task.Attempt}; before: {string.Join(", ", (task.PastAttempts ?? []).Select(a => $"{a.Attempt} {WireEnumConverter<AttemptOutcome>.Name(a.Outcome)}"))})" : "")}");
        }

        return text.ToString().TrimEnd();
    }
}

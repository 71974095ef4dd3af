using Lume.Contracts;
using System.ComponentModel;
using System.Globalization;
using Lume.Flows;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lume.Cli.Commands;

/// <summary><c>lume run FLOW</c>: runs a flow and shows it as it goes.</summary>
public sealed class RunCommand(IAnsiConsole console) : AsyncCommand<RunCommand.Settings>
{
    public const int Succeeded = 0;
    public const int Failed = 1;
    public const int Rejected = 2;

    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<FLOW>")]
        [Description("The flow to run, e.g. flow1 (see lume flows)")]
        public string Flow { get; init; } = "";

        [CommandOption("-p|--param <PARAM>")]
        [Description("A parameter: name=value passes a string, name:=json passes raw JSON. Repeat for each")]
        public string[] Parameters { get; init; } = [];

        [CommandOption("--params-file <FILE>")]
        [Description("A JSON object of parameters; -p values override it")]
        public string? ParamsFile { get; init; }

        [CommandOption("--flow-version <VERSION>")]
        [Description("Run this version of the flow instead of the newest")]
        public string? FlowVersion { get; init; }

        [CommandOption("--json")]
        [Description("Print one JSON object (run_id, flow, state, tasks) instead of the progress lines")]
        public bool Json { get; init; }

        [CommandOption("--no-wait")]
        [Description("Print the run id once the Scheduler accepts the run, and leave it running (needs LUME_BROKER)")]
        public bool NoWait { get; init; }

        [CommandOption("--timeout <SECONDS>")]
        [Description("Cancel the run if it has not ended after this many seconds (default: the flow's own timeout, if any)")]
        public string? TimeoutText { get; init; }

        public double? Timeout => double.TryParse(TimeoutText, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) ? seconds : null;

        public override ValidationResult Validate() =>
            TimeoutText is null || Timeout is > 0 and <= FlowChecks.MaxSeconds
                ? ValidationResult.Success()
                : ValidationResult.Error($"--timeout: '{TimeoutText}' is not a number of seconds above 0 and at most {FlowChecks.MaxSeconds}");

        [CommandOption("--no-cache")]
        [Description("Run every task, reading no cached result (tasks with a cache policy still keep their fresh results)")]
        public bool NoCache { get; init; }

        [CommandOption("--task <SLUG>")]
        [Description("Print only this task's result, as JSON (upstream's run_and_return): TaskNotInFlow, TaskNotCompleted, EmptyResult otherwise")]
        public string? Task { get; init; }

        [CommandOption("--detach-on-interrupt")]
        [Description("On Ctrl+C, leave the run going and print its id, instead of cancelling it (needs LUME_BROKER)")]
        public bool DetachOnInterrupt { get; init; }

        [CommandOption("--approve <TASK>")]
        [Description("Approve this task (trigger manual_only) as soon as it waits for approval; repeatable. An embedded run needs it: nobody else can approve it")]
        public string[] Approve { get; init; } = [];
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var (parameters, problems) = RunParameters.Parse(settings.Parameters, settings.ParamsFile);
        using var lume = LumeHost.Build();
        if (lume.IsEmbedded)
        {
            if (settings.NoWait)
                problems.Add("--no-wait needs the distributed services (set LUME_BROKER): an embedded run ends with the command");
            if (settings.DetachOnInterrupt)
                problems.Add("--detach-on-interrupt needs the distributed services (set LUME_BROKER): an embedded run ends with the command");
            // Check the request before anything starts, so a rejected one writes nothing: not even the run store.
            // The Scheduler checks again; with a broker, it is the only one that knows the flows.
            var (flow, unknown) = lume.LocalFlows.Find(settings.Flow, settings.FlowVersion);
            if (flow is null)
                problems.Add(unknown!);
            else
            {
                problems.AddRange(FlowChecks.CheckParameters(flow, parameters).Problems);
                // Nobody else can reach an embedded run: a task that waits for approval would wait for ever.
                foreach (var waiting in flow.Tasks.Where(t => t.Trigger == Trigger.ManualOnly && !settings.Approve.Contains(t.Slug)))
                    problems.Add($"flow '{flow.Name}': task '{waiting.Slug}' waits for approval (trigger manual_only), and an embedded run " +
                        $"can be approved only by this command: add --approve {waiting.Slug}, or run it on the distributed services (LUME_BROKER) " +
                        "and approve it with lume runs approve");
                if (settings.Task is { } slug && flow.FindTask(FlowTaskOf(slug)) is null)
                    problems.Add(TaskNotInFlow(slug, flow.Name, flow.Tasks.Select(t => t.Slug)));
            }
        }

        if (settings.Task is not null && settings.NoWait)
            problems.Add("--task prints a task's result once the run has ended; it cannot go with --no-wait");
        if (problems.Count > 0)
            return Reject(problems);

        await lume.StartAsync(cancellationToken);
        try
        {
            // With a broker only the Scheduler knows the flows: ask before anything runs, as upstream's run_and_return did.
            if (!lume.IsEmbedded && settings.Task is { } wanted
                && (await lume.Client.FlowsAsync(cancellationToken)).FirstOrDefault(f => f.Name == settings.Flow
                    && (settings.FlowVersion is null || f.Version == settings.FlowVersion)) is { } known
                && !known.Tasks.Contains(FlowTaskOf(wanted)))
                return Reject([TaskNotInFlow(wanted, known.Name, known.Tasks)]);

            var report = new RunReport(console);
            using var stopping = lume.Stopping(cancellationToken);
            RunOutcome outcome;
            try
            {
                outcome = await lume.Client.RunAsync(
                    settings.Flow, settings.FlowVersion, parameters, settings.Json || settings.NoWait || settings.Task is not null ? null : report,
                    wait: !settings.NoWait, stopping.Token,
                    settings.Timeout, cancelOnInterrupt: !settings.DetachOnInterrupt, noCache: settings.NoCache, approve: settings.Approve);
            }
            catch (RunInterruptedException interrupted) when (lume.FatalReason is null)
            {
                Console.Error.WriteLine(interrupted.Cancelled
                    ? $"interrupted: run {interrupted.RunId} was cancelled"
                    : $"interrupted: run {interrupted.RunId} goes on; follow it with lume runs show {interrupted.RunId}");
                return CliErrors.Interrupted;
            }

            if (outcome.Rejected)
                return Reject(outcome.Failure!.Problems);
            if (outcome.Snapshot is null)
                console.Profile.Out.Writer.WriteLine(outcome.RunId);
            else if (settings.Task is { } slug)
                return TaskResult(outcome, slug);
            else if (settings.Json)
                console.Profile.Out.Writer.WriteLine(RunReport.Write(RunReport.ToJson(outcome.Snapshot)));
            else
                report.Summary(outcome);
            return outcome.Succeeded ? Succeeded : Failed;
        }
        finally
        {
            await lume.StopAsync();
        }
    }

    // A mapped task's child (square[2]) is asked for by its mapped task's slug before the run: it exists only once mapped.
    static string FlowTaskOf(string slug) => MappedSlug.Parse(slug).Parent ?? slug;

    static string TaskNotInFlow(string slug, string flow, IEnumerable<string> tasks) =>
        $"TaskNotInFlow: flow '{flow}' has no task '{slug}'; its tasks: {NameList.Of(tasks)}";

    // One task's result as JSON on stdout, or upstream's errors: the task did not complete, or returned nothing.
    int TaskResult(RunOutcome outcome, string slug)
    {
        var task = outcome.Snapshot!.Tasks.FirstOrDefault(t => t.Slug == slug);
        if (task is null)
            return Reject([TaskNotInFlow(slug, outcome.Snapshot.Flow, outcome.Snapshot.Tasks.Select(t => t.Slug).Where(s => MappedSlug.Parse(s).Parent is null))]);
        if (task.State is not (TaskState.Completed or TaskState.Cached))
        {
            Console.Error.WriteLine($"error: TaskNotCompleted: task '{slug}' of run {outcome.RunId} is {WireEnumConverter<TaskState>.Name(task.State)}" +
                (task.Error is { } error ? $": {error}" : ""));
            return Failed;
        }

        if (task.Result is not { ValueKind: not System.Text.Json.JsonValueKind.Null } result)
        {
            Console.Error.WriteLine($"error: EmptyResult: task '{slug}' of run {outcome.RunId} completed without a result");
            return Failed;
        }

        console.Profile.Out.Writer.WriteLine(RunReport.Compact(result));
        return outcome.Succeeded ? Succeeded : Failed;
    }

    static int Reject(IEnumerable<string> problems)
    {
        foreach (var problem in problems)
            Console.Error.WriteLine($"error: {problem}");
        return Rejected;
    }
}

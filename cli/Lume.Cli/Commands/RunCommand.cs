using System.ComponentModel;
using Lume.Flows;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lume.Cli.Commands;

/// <summary><c>lume run FLOW</c>: runs a flow on the embedded services and shows it as it goes.</summary>
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

        [CommandOption("--json")]
        [Description("Print one JSON object (run_id, flow, state, tasks) instead of the progress lines")]
        public bool Json { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var (parameters, problems) = RunParameters.Parse(settings.Parameters, settings.ParamsFile);
        using var host = EmbeddedLume.Build();

        // Check the request before anything starts, so a rejected one writes nothing: not even the run store.
        var (flow, unknown) = host.Services.GetRequiredService<FlowCatalog>().Find(settings.Flow, null);
        if (flow is null)
            problems.Add(unknown!);
        else
            problems.AddRange(FlowChecks.CheckParameters(flow, parameters).Problems);
        if (problems.Count > 0)
            return Reject(problems);

        await host.StartAsync(cancellationToken);
        try
        {
            var client = new RunClient(host.Services.GetRequiredService<IBus>(), host.Services.GetRequiredService<IClientFactory>(), TimeProvider.System);
            var report = new RunReport(console);
            var outcome = await client.RunAsync(flow!.Name, parameters, settings.Json ? null : report, cancellationToken);
            if (outcome.Rejected)
                return Reject(outcome.Failure!.Problems);
            if (settings.Json)
                console.Profile.Out.Writer.WriteLine(RunReport.Write(RunReport.ToJson(outcome.Snapshot!)));
            else
                report.Summary(outcome, FinalTasks(flow));
            return outcome.Succeeded ? Succeeded : Failed;
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }

    static int Reject(IEnumerable<string> problems)
    {
        foreach (var problem in problems)
            Console.Error.WriteLine($"error: {problem}");
        return Rejected;
    }

    static HashSet<string> FinalTasks(FlowDefinition flow)
    {
        var upstream = flow.Tasks.SelectMany(FlowDefinition.UpstreamOf).ToHashSet();
        return flow.Tasks.Select(t => t.Slug).Where(s => !upstream.Contains(s)).ToHashSet();
    }
}

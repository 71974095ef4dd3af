using System.ComponentModel;
using System.Text.Json.Nodes;
using Lume.Flows;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lume.Cli.Commands;

/// <summary><c>lume flows</c>: the flows this installation knows, with their parameters.</summary>
public sealed class FlowsCommand(IAnsiConsole console) : Command<FlowsCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--json")]
        [Description("Print the flows as JSON")]
        public bool Json { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        using var host = EmbeddedLume.Build();
        var flows = host.Services.GetRequiredService<FlowCatalog>().Latest;
        if (settings.Json)
        {
            var list = new JsonArray(flows.Select(f => (JsonNode)new JsonObject
            {
                ["name"] = f.Name,
                ["version"] = f.Version,
                ["parameters"] = new JsonArray(f.Parameters.Select(p => (JsonNode)JsonValue.Create(p.Name)!).ToArray()),
                ["tasks"] = new JsonArray(f.Tasks.Select(t => (JsonNode)JsonValue.Create(t.Slug)!).ToArray()),
            }).ToArray());
            console.Profile.Out.Writer.WriteLine(RunReport.Write(list));
            return 0;
        }

        var table = new Table().AddColumns("Flow", "Version", "Parameters", "Tasks");
        foreach (var flow in flows)
            table.AddRow(
                Markup.Escape(flow.Name),
                Markup.Escape(flow.Version),
                Markup.Escape(FlowChecks.DescribeParameters(flow)),
                Markup.Escape(string.Join(", ", flow.Tasks.Select(t => t.Slug))));
        console.Write(table);
        return 0;
    }
}

using System.ComponentModel;
using System.Text.Json.Nodes;
using Lume.Contracts;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lume.Cli.Commands;

/// <summary><c>lume flows</c>: the flows that can be run, with their parameters.</summary>
public sealed class FlowsCommand(IAnsiConsole console) : AsyncCommand<FlowsCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--json")]
        [Description("Print the flows as JSON")]
        public bool Json { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var flows = await RunnableAsync(cancellationToken);
        if (settings.Json)
        {
            var list = new JsonArray(flows.Select(f => (JsonNode)new JsonObject
            {
                ["name"] = f.Name,
                ["version"] = f.Version,
                ["pool"] = f.Pool,
                ["parameters"] = new JsonArray(f.Parameters.Select(p => (JsonNode)JsonValue.Create(p.Name)!).ToArray()),
                ["tasks"] = new JsonArray(f.Tasks.Select(t => (JsonNode)JsonValue.Create(t)!).ToArray()),
                ["pool_alive"] = f.PoolAlive,
            }).ToArray());
            console.Profile.Out.Writer.WriteLine(RunReport.Write(list));
            return 0;
        }

        var table = new Table().AddColumns("Flow", "Version", "Parameters", "Tasks", "Pool");
        foreach (var flow in flows)
            table.AddRow(
                Markup.Escape(flow.Name),
                Markup.Escape(flow.Version),
                Markup.Escape(string.Join(", ", flow.Parameters.Select(p => p.Default is { } d ? $"{p.Name}={RunReport.Compact(d)}" : p.Name))),
                Markup.Escape(Summarise(flow.Tasks)),
                flow.PoolAlive ? Markup.Escape(flow.Pool) : $"{Markup.Escape(flow.Pool)} [red](no live worker)[/]");
        console.Write(table);
        return 0;
    }

    /// <summary>How many task names the table shows before it counts the rest; <c>--json</c> lists them all.</summary>
    public const int TasksShown = 8;

    // A 500-task flow would fill screens: the first few names, then how many more.
    static string Summarise(IReadOnlyList<string> tasks) => tasks.Count <= TasksShown
        ? string.Join(", ", tasks)
        : $"{string.Join(", ", tasks.Take(TasksShown))} … and {tasks.Count - TasksShown} more ({tasks.Count} in all; --json lists them)";

    /// <summary>The flows that can be run: the embedded host's (with those registered from files), or those the Scheduler serves.</summary>
    public static async Task<IReadOnlyList<FlowInfo>> RunnableAsync(CancellationToken cancellationToken)
    {
        using var lume = LumeHost.Build();
        return lume.IsEmbedded ? LocalFlows(lume) : await ServedFlowsAsync(lume, cancellationToken);
    }

    static IReadOnlyList<FlowInfo> LocalFlows(LumeHost lume) => lume.LocalFlows.Latest
        .Select(f => new FlowInfo(f.Name, f.Version, "default", f.Parameters.Select(p => new FlowParameterInfo(p.Name, p.Default, p.Default is null)).ToArray(),
            f.Tasks.Select(t => t.Slug).ToArray(), true))
        .ToArray();

    static async Task<IReadOnlyList<FlowInfo>> ServedFlowsAsync(LumeHost lume, CancellationToken cancellationToken)
    {
        await lume.StartAsync(cancellationToken);
        try
        {
            return await lume.Client.FlowsAsync(cancellationToken);
        }
        finally
        {
            await lume.StopAsync();
        }
    }
}

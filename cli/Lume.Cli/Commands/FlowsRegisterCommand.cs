using System.ComponentModel;
using System.Text.Json;
using Lume.Contracts;
using Lume.Flows;
using Lume.Hosting;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lume.Cli.Commands;

/// <summary>
/// <c>lume flows register FILE</c>: a flow written as JSON or YAML, made of task types some worker pool offers, so a
/// user defines a flow without C#. The Scheduler checks it against the pool's task registry and lists every problem.
/// </summary>
public sealed class FlowsRegisterCommand(IAnsiConsole console) : AsyncCommand<FlowsRegisterCommand.Settings>
{
    /// <summary>A flow file and the pool it is registered for: <c>lume flows register</c> and <c>lume flows compose</c> take the same.</summary>
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<FILE>")]
        [Description("The flow file: JSON (.json) or YAML (.yaml, .yml)")]
        public string File { get; init; } = "";

        [CommandOption("--pool <POOL>")]
        [Description("The worker pool that runs the flow's own tasks (default: default)")]
        public string Pool { get; init; } = "default";
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        FlowDefinition flow;
        try
        {
            flow = FlowJson.Parse(JsonSerializer.SerializeToElement(FlowFiles.Read(settings.File)));
        }
        catch (FlowFileException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return RunCommand.Rejected;
        }
        catch (FlowDefinitionException e)
        {
            return Refused(settings.File, e.Problems);
        }

        return await RegisterAsync(console, flow, settings.Pool, settings.File, cancellationToken);
    }

    /// <summary>Asks the Scheduler to register <paramref name="flow"/> for <paramref name="pool"/>; says what it did, or every problem (exit 2).</summary>
    public static async Task<int> RegisterAsync(IAnsiConsole console, FlowDefinition flow, string pool, string source, CancellationToken cancellationToken)
    {
        var answer = await ServiceRequest.WithHostAsync(async lume =>
        {
            var request = await FlowTransfer.RegisterFlowAsync(lume.Host.Services.GetRequiredService<IMessageDataRepository>(), flow, pool, cancellationToken);
            return (await lume.Host.Services.GetRequiredService<IClientFactory>().CreateRequestClient<RegisterFlow>()
                .GetResponse<FlowRegistration>(request, cancellationToken)).Message;
        }, cancellationToken);
        if (answer.Problems.Count > 0)
            return Refused(source, answer.Problems);
        console.MarkupLine($"Registered flow [bold]{Markup.Escape(answer.Flow)}[/] version {Markup.Escape(answer.Version)} for pool " +
            $"{Markup.Escape(answer.Pool)}: run it with lume run {Markup.Escape(answer.Flow)}");
        return 0;
    }

    /// <summary>Says that the flow in <paramref name="source"/> was not registered, with every problem; exit 2.</summary>
    public static int Refused(string source, IReadOnlyList<string> problems)
    {
        Console.Error.WriteLine($"error: {source}: the flow was not registered:");
        foreach (var problem in problems)
            Console.Error.WriteLine($"  - {problem}");
        return RunCommand.Rejected;
    }
}

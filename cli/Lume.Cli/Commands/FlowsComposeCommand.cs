using System.Text.Json;
using System.Text.Json.Serialization;
using Lume.Contracts;
using Lume.Flows;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lume.Cli.Commands;

/// <summary>
/// <c>lume flows compose FILE.yaml</c>: LUME-services' flow of flows. Each composing flow runs as a subflow, in the
/// order listed; a mapped parameter takes a task's result from a flow earlier in the list (<c>raw</c> or <c>file</c>:
/// the result itself; <c>db</c>: the stored result it names, loaded, then its <c>attribute</c> and
/// <c>attribute_index</c>). Every other parameter becomes a parameter of the composite flow, named
/// <c>{flow_name}-{param_name}</c>, as upstream names them.
/// </summary>
public sealed class FlowsComposeCommand(IAnsiConsole console) : AsyncCommand<FlowsRegisterCommand.Settings>
{
    public sealed record Spec(
        [property: JsonPropertyName("name")] string? Name,
        [property: JsonPropertyName("project_name")] string? ProjectName,
        [property: JsonPropertyName("composing_flows")] IReadOnlyList<ComposingFlow>? ComposingFlows);

    public sealed record ComposingFlow(
        [property: JsonPropertyName("name")] string? Name,
        [property: JsonPropertyName("project_name")] string? ProjectName,
        [property: JsonPropertyName("version")] string? Version,
        [property: JsonPropertyName("mapped_parameters")] IReadOnlyDictionary<string, MappedParameter>? MappedParameters);

    public sealed record MappedParameter(
        [property: JsonPropertyName("parent_flow_name")] string? ParentFlowName,
        [property: JsonPropertyName("parent_project_name")] string? ParentProjectName,
        [property: JsonPropertyName("parent_task_name")] string? ParentTaskName,
        [property: JsonPropertyName("map_type")] string? MapType,
        [property: JsonPropertyName("attribute")] string? Attribute,
        [property: JsonPropertyName("attribute_index")] IReadOnlyList<JsonElement>? AttributeIndex);

    public override async Task<int> ExecuteAsync(CommandContext context, FlowsRegisterCommand.Settings settings, CancellationToken cancellationToken)
    {
        Spec spec;
        try
        {
            spec = FlowFiles.Read(settings.File).Deserialize<Spec>() ?? throw new FlowFileException($"{settings.File}: empty");
        }
        catch (FlowFileException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return RunCommand.Rejected;
        }
        catch (JsonException e)
        {
            Console.Error.WriteLine($"error: {settings.File}: not a flow of flows ({e.Path}): {e.Message}");
            return RunCommand.Rejected;
        }

        var known = await FlowsCommand.RunnableAsync(cancellationToken);
        var (flow, problems) = Compose(spec, known);
        if (problems.Count > 0)
            return FlowsRegisterCommand.Refused(settings.File, problems);
        return await FlowsRegisterCommand.RegisterAsync(console, flow!, settings.Pool, settings.File, cancellationToken);
    }

    /// <summary>The composite flow, or every problem of the spec, with upstream's error names.</summary>
    public static (FlowDefinition? Flow, IReadOnlyList<string> Problems) Compose(Spec spec, IReadOnlyList<FlowInfo> known)
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(spec.Name))
            problems.Add("name: missing; the composite flow needs a name");
        if (spec.ComposingFlows is not { Count: > 0 } composing)
            return (null, [.. problems, "composing_flows: missing or empty; list the flows to run, in order"]);

        var listed = composing.Select(c => c.Name ?? "").ToArray();
        var flows = new Dictionary<string, FlowInfo>(StringComparer.Ordinal);
        foreach (var (entry, i) in composing.Select((c, i) => (c, i)))
        {
            if (string.IsNullOrWhiteSpace(entry.Name))
                problems.Add($"composing_flows[{i}]: name is missing");
            else if (known.FirstOrDefault(f => f.Name == entry.Name && (entry.Version is null || f.Version == entry.Version)) is { } found)
            {
                if (!flows.TryAdd(entry.Name, found))
                    problems.Add($"composing_flows[{i}]: flow '{entry.Name}' is listed twice");
            }
            else
                problems.Add($"composing_flows[{i}]: flow '{entry.Name}'{(entry.Version is null ? "" : $" version '{entry.Version}'")} is not registered; " +
                    $"known flows: {string.Join(", ", known.Select(f => f.Name).Distinct().Order(StringComparer.Ordinal))}");
        }

        // The results each flow must hand on: the tasks later flows map parameters from.
        var handedOn = new Dictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        var parameters = new List<FlowParameter>();
        var tasks = new List<TaskNode>();
        foreach (var (entry, i) in composing.Select((c, i) => (c, i)))
        {
            if (entry.Name is null || !flows.TryGetValue(entry.Name, out var flow))
                continue;
            var inputs = new Dictionary<string, TaskInput>(StringComparer.Ordinal);
            var upstream = new SortedSet<string>(StringComparer.Ordinal);
            var mapped = entry.MappedParameters ?? new Dictionary<string, MappedParameter>();
            foreach (var (name, map) in mapped)
            {
                var at = $"flow '{flow.Name}', parameter '{name}'";
                if (flow.Parameters.All(p => p.Name != name))
                {
                    problems.Add($"ParameterNotInFlow: {at}: flow '{flow.Name}' has no parameter '{name}' (its parameters: {string.Join(", ", flow.Parameters.Select(p => p.Name))})");
                    continue;
                }

                var parentIndex = Array.IndexOf(listed, map.ParentFlowName);
                if (map.ParentFlowName is null || parentIndex < 0 || parentIndex >= i)
                {
                    problems.Add($"ParentFlowNotInFlows: {at}: parent flow '{map.ParentFlowName}' is not among the flows listed before it: " +
                        string.Join(", ", listed.Take(i)));
                    continue;
                }

                if (!flows.TryGetValue(map.ParentFlowName, out var parent))
                    continue; // named as not registered above
                if (map.ParentTaskName is null || !parent.Tasks.Contains(map.ParentTaskName))
                {
                    problems.Add($"TaskNotInFlow: {at}: task '{map.ParentTaskName}' is not in flow '{parent.Name}' (its tasks: {NameList.Of(parent.Tasks)})");
                    continue;
                }

                (handedOn.TryGetValue(parent.Name, out var set) ? set : handedOn[parent.Name] = new(StringComparer.Ordinal)).Add(map.ParentTaskName);
                upstream.Add(parent.Name);
                var result = new TaskOutput(parent.Name, [map.ParentTaskName]);
                switch (map.MapType)
                {
                    case "raw" or "file":
                        inputs[name] = result;
                        break;
                    case "db":
                        // The stored result the task's rep names, loaded by the built-in load_db_result, then the part asked for.
                        var load = $"{flow.Name}-{name}-load";
                        var index = (map.Attribute is null ? [] : new[] { JsonSerializer.SerializeToElement(map.Attribute) }).Concat(map.AttributeIndex ?? []).ToArray();
                        tasks.Add(new TaskNode(load, "load_db_result", new Dictionary<string, TaskInput>
                        {
                            ["result_rep"] = result,
                            ["attribute_index"] = new ConstantInput(JsonSerializer.SerializeToElement(index)),
                        }, []));
                        inputs[name] = new TaskOutput(load);
                        break;
                    default:
                        problems.Add($"{at}: map_type '{map.MapType}' is not one of raw, file, db");
                        break;
                }
            }

            foreach (var parameter in flow.Parameters.Where(p => !mapped.ContainsKey(p.Name)))
            {
                var renamed = $"{flow.Name}-{parameter.Name}";
                parameters.Add(new FlowParameter(renamed, parameter.Default));
                inputs[parameter.Name] = new ParameterInput(renamed);
            }

            // Each flow runs after those it takes results from; with none, after the one listed before it, as upstream chains them.
            if (upstream.Count == 0 && i > 0 && listed[i - 1] is { Length: > 0 } previous && flows.ContainsKey(previous))
                upstream.Add(previous);
            tasks.Add(new TaskNode(flow.Name, FlowDefinition.SubflowType, inputs, upstream.Where(u => !inputs.Values.OfType<TaskOutput>().Any(o => o.Task == u)).ToArray(),
                Subflow: new SubflowCall(flow.Name, flow.Version)));
        }

        if (problems.Count > 0)
            return (null, problems);
        // A flow later flows take results from hands on those tasks' results; the last ones hand on their outputs.
        var composed = tasks.Select(t => t.Subflow is { } call && handedOn.TryGetValue(call.Flow, out var wanted)
            ? t with { Subflow = call with { Tasks = wanted.ToArray() } }
            : t).ToArray();
        var definition = new FlowDefinition(spec.Name!, "1", parameters, composed);
        var graph = FlowChecks.CheckGraph(definition);
        return graph.Count > 0 ? (null, graph) : (definition, []);
    }
}

using System.Text.Json;

namespace Lume.Flows;

/// <summary>The checks a flow and a run request must pass. Each returns every problem found, each naming what is at fault.</summary>
public static class FlowChecks
{
    /// <summary>
    /// Checks the graph: names present and unique, references to tasks and parameters that exist,
    /// no cycles, and (when <paramref name="knownTaskTypes"/> is given) only task types a worker offers.
    /// </summary>
    public static IReadOnlyList<string> CheckGraph(FlowDefinition flow, IReadOnlySet<string>? knownTaskTypes = null)
    {
        var problems = new List<string>();
        var where = $"flow '{flow.Name}'";
        if (string.IsNullOrWhiteSpace(flow.Name))
            problems.Add("flow: the name is empty");
        if (string.IsNullOrWhiteSpace(flow.Version))
            problems.Add($"{where}: the version is empty");
        if (flow.Tasks.Count == 0)
            problems.Add($"{where}: the flow has no tasks");

        foreach (var name in Duplicates(flow.Parameters.Select(p => p.Name)))
            problems.Add($"{where}: parameter '{name}' is declared more than once");
        foreach (var slug in Duplicates(flow.Tasks.Select(t => t.Slug)))
            problems.Add($"{where}: task name '{slug}' is used by more than one task");

        var parameters = flow.Parameters.Select(p => p.Name).ToHashSet();
        var slugs = flow.Tasks.Select(t => t.Slug).ToHashSet();
        if (flow.ReferenceTasks is { } references)
        {
            if (references.Count == 0)
                problems.Add($"{where}: reference_tasks is empty; leave it out to use the terminal tasks");
            foreach (var slug in references.Where(r => !slugs.Contains(r)))
                problems.Add($"{where}: reference task '{slug}' is not in the flow");
        }

        foreach (var task in flow.Tasks)
        {
            var at = $"{where}, task '{task.Slug}'";
            if (string.IsNullOrWhiteSpace(task.Slug))
                problems.Add($"{where}: a task of type '{task.Type}' has an empty name");
            if (task.Slug.AsSpan().IndexOfAny('[', ']') >= 0)
                problems.Add($"{at}: a task name may not hold '[' or ']', which name a mapped task's children (square[0])");
            if (task.Map is { } map)
            {
                if (map.Count == 0)
                    problems.Add($"{at}: map is empty; a mapped task maps at least one argument (leave map out for a task that is not mapped)");
                if (task.Type == FlowDefinition.MergeType)
                    problems.Add($"{at}: a merge cannot be mapped");
                foreach (var argument in map.Where(a => !task.Inputs.ContainsKey(a)))
                    problems.Add($"{at}: mapped argument '{argument}' is not one of its arguments ({string.Join(", ", task.Inputs.Keys)})");
                foreach (var argument in Duplicates(map))
                    problems.Add($"{at}: argument '{argument}' is mapped more than once");
            }

            foreach (var argument in (task.Flatten ?? []).Where(a => task.Map?.Contains(a) != true))
                problems.Add($"{at}: argument '{argument}' is flattened but not mapped; flatten applies to mapped arguments");
            if (task.Type == FlowDefinition.MergeType && (task.Inputs.Count == 0 || task.Inputs.Values.Any(i => i is not TaskOutput)))
                problems.Add($"{at}: a merge takes only task results, at least one");
            foreach (var condition in task.Case ?? [])
                if (!slugs.Contains(condition.Task))
                    problems.Add($"{at}: its case refers to task '{condition.Task}', which is not in the flow");
            if (task.Type == FlowDefinition.SubflowType && string.IsNullOrWhiteSpace(task.Subflow?.Flow))
                problems.Add($"{at}: a subflow task names the flow it runs (\"subflow\": {{\"flow\": \"...\"}})");
            if (task.Subflow is not null && task.Type != FlowDefinition.SubflowType)
                problems.Add($"{at}: only a task of type '{FlowDefinition.SubflowType}' runs a subflow, not one of type '{task.Type}'");
            if (knownTaskTypes is not null && task.Type is not (FlowDefinition.MergeType or FlowDefinition.SubflowType) && !knownTaskTypes.Contains(task.Type))
                problems.Add($"{at}: unknown task type '{task.Type}'; known types: {string.Join(", ", knownTaskTypes.Order(StringComparer.Ordinal))}");
            foreach (var (argument, input) in task.Inputs)
            {
                switch (input)
                {
                    case ParameterInput p when !parameters.Contains(p.Parameter):
                        problems.Add($"{at}: argument '{argument}' refers to parameter '{p.Parameter}', which the flow does not declare");
                        break;
                    case TaskOutput o when !slugs.Contains(o.Task):
                        problems.Add($"{at}: argument '{argument}' refers to task '{o.Task}', which is not in the flow");
                        break;
                    case ConstantInput c when c.Value.ValueKind == JsonValueKind.Undefined:
                        problems.Add($"{at}: argument '{argument}' has no JSON value");
                        break;
                }
            }

            if (task.Cache is { } cache && !(cache.ForSeconds > 0 && cache.ForSeconds <= MaxSeconds))
                problems.Add($"{at}: cache for_seconds must be above 0 and at most {MaxSeconds} (a year), not {cache.ForSeconds}");
            if (task.TimeoutSeconds is { } timeout && !(timeout > 0 && timeout <= MaxSeconds))
                problems.Add($"{at}: timeout_seconds must be above 0 and at most {MaxSeconds} (a year), not {timeout}");
            if (task.Retry is { } retry)
                problems.AddRange(CheckRetry(retry).Select(p => $"{at}: retry: {p}"));
            foreach (var upstream in task.Upstream.Where(u => !slugs.Contains(u)))
                problems.Add($"{at}: upstream task '{upstream}' is not in the flow");
            if (FlowDefinition.UpstreamOf(task).Contains(task.Slug))
                problems.Add($"{at}: the task depends on itself");
        }

        if (flow.TimeoutSeconds is { } runTimeout && !(runTimeout > 0 && runTimeout <= MaxSeconds))
            problems.Add($"{where}: timeout_seconds must be above 0 and at most {MaxSeconds} (a year), not {runTimeout}");
        var cycle = FindCycle(flow);
        if (cycle is not null)
            problems.Add($"{where}: the tasks form a cycle: {string.Join(" -> ", cycle)}");
        return Capped(problems);
    }

    /// <summary>The most problems one check reports: a 100,000-task flow with a wrong task type would otherwise name each task.</summary>
    public const int MostProblems = 50;

    static List<string> Capped(List<string> problems)
    {
        if (problems.Count <= MostProblems)
            return problems;
        var more = problems.Count - MostProblems;
        problems.RemoveRange(MostProblems, more);
        problems.Add($"… and {more:N0} more problems of the same flow");
        return problems;
    }

    /// <summary>The longest timeout or retry delay a flow may ask for: a year.</summary>
    public const double MaxSeconds = 365 * 24 * 3600;

    static IEnumerable<string> CheckRetry(RetryPolicy retry)
    {
        if (retry.Retries is < 0 or > 1000)
            yield return $"retries must be between 0 and 1000, not {retry.Retries}";
        if (!(retry.DelaySeconds >= 0 && retry.DelaySeconds <= MaxSeconds))
            yield return $"delay_seconds must be between 0 and {MaxSeconds}, not {retry.DelaySeconds}";
        if (!(retry.Backoff >= 1 && retry.Backoff <= 100))
            yield return $"backoff must be between 1 and 100, not {retry.Backoff}";
        if (retry.MaxDelaySeconds is { } max && !(max >= 0 && max <= MaxSeconds))
            yield return $"max_delay_seconds must be between 0 and {MaxSeconds}, not {max}";
        if (!(retry.Jitter >= 0 && retry.Jitter <= 1))
            yield return $"jitter must be between 0 and 1, not {retry.Jitter}";
    }

    /// <summary>
    /// Checks a run's parameters against the flow's declarations: every required parameter given, nothing
    /// undeclared, every value JSON. Returns the parameters with defaults filled in, or the problems.
    /// </summary>
    public static (IReadOnlyDictionary<string, JsonElement> Parameters, IReadOnlyList<string> Problems) CheckParameters(
        FlowDefinition flow, IReadOnlyDictionary<string, JsonElement> given)
    {
        var problems = new List<string>();
        var resolved = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        var declared = flow.Parameters.Select(p => p.Name).ToHashSet();
        foreach (var parameter in flow.Parameters)
        {
            if (given.TryGetValue(parameter.Name, out var value))
            {
                if (value.ValueKind == JsonValueKind.Undefined)
                    problems.Add($"parameter '{parameter.Name}': the value is not JSON");
                else if (JsonLimits.Check(value, parameter.Name) is { } problem)
                    problems.Add($"parameter '{parameter.Name}': {problem}");
                else
                    resolved[parameter.Name] = value;
            }
            else if (parameter.Default is { } fallback)
            {
                resolved[parameter.Name] = fallback;
            }
            else
            {
                problems.Add($"parameter '{parameter.Name}': missing; flow '{flow.Name}' requires it");
            }
        }

        foreach (var name in given.Keys.Where(k => !declared.Contains(k)).Order(StringComparer.Ordinal))
            problems.Add($"parameter '{name}': not declared by flow '{flow.Name}' (it declares: {DescribeParameters(flow)})");

        // Every task of the run gets the parameters it names, and the store keeps them: large data travels as a file.
        var size = given.Values.Where(v => v.ValueKind != JsonValueKind.Undefined).Sum(v => (long)JsonLimits.Size(v));
        if (size > JsonLimits.MaxParameterBytes)
        {
            var largest = given.Where(p => p.Value.ValueKind != JsonValueKind.Undefined).MaxBy(p => JsonLimits.Size(p.Value));
            problems.Add($"parameter '{largest.Key}': the parameters are {Mebibytes(size)} in all, more than the limit of {Mebibytes(JsonLimits.MaxParameterBytes)}; " +
                "save large data to a file (e.g. with save_file) and pass its file rep or path instead");
        }

        return (resolved, problems);
    }

    static string Mebibytes(long bytes) => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{bytes / 1048576.0:0.#} MiB");

    /// <summary>The flow's parameters as a short list for messages and listings, e.g. <c>text1, text2, create_dir=false</c>.</summary>
    public static string DescribeParameters(FlowDefinition flow) =>
        flow.Parameters.Count == 0
            ? "no parameters"
            : string.Join(", ", flow.Parameters.Select(p => p.Default is { } d ? $"{p.Name}={d.GetRawText()}" : p.Name));

    static IEnumerable<string> Duplicates(IEnumerable<string> names) =>
        names.GroupBy(n => n, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key);

    // Depth-first search with colours; returns the first cycle found as a path that starts and ends on the same task.
    static List<string>? FindCycle(FlowDefinition flow)
    {
        var byslug = flow.Tasks.GroupBy(t => t.Slug).ToDictionary(g => g.Key, g => g.First());
        var state = new Dictionary<string, int>();
        var path = new List<string>();

        List<string>? Visit(string slug)
        {
            state[slug] = 1;
            path.Add(slug);
            foreach (var up in FlowDefinition.UpstreamOf(byslug[slug]).Where(byslug.ContainsKey))
            {
                if (state.GetValueOrDefault(up) == 1)
                    return [.. path[path.IndexOf(up)..], up];
                if (state.GetValueOrDefault(up) == 0 && Visit(up) is { } found)
                    return found;
            }

            path.RemoveAt(path.Count - 1);
            state[slug] = 2;
            return null;
        }

        foreach (var slug in byslug.Keys)
            if (state.GetValueOrDefault(slug) == 0 && Visit(slug) is { } cycle)
            {
                cycle.Reverse();
                return cycle;
            }

        return null;
    }
}

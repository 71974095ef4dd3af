using System.Text.Json;

namespace Lume.Flows;

/// <summary>Resolves a task's arguments to JSON values from the run's parameters and its upstream results.</summary>
public static class TaskInputs
{
    /// <summary>The task's arguments as JSON; every referenced upstream result must be present.</summary>
    public static IReadOnlyDictionary<string, JsonElement> Resolve(
        TaskNode task,
        IReadOnlyDictionary<string, JsonElement> parameters,
        Func<string, JsonElement> resultOf)
    {
        var values = new Dictionary<string, JsonElement>(task.Inputs.Count, StringComparer.Ordinal);
        foreach (var (argument, input) in task.Inputs)
        {
            values[argument] = input switch
            {
                ParameterInput p => parameters[p.Parameter],
                TaskOutput o => resultOf(o.Task),
                ConstantInput c => c.Value,
                _ => throw new InvalidOperationException($"task '{task.Slug}': argument '{argument}' has an unknown input kind {input.GetType().Name}"),
            };
        }

        return values;
    }
}

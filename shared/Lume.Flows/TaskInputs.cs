using System.Text.Json;

namespace Lume.Flows;

/// <summary>Resolves a task's arguments to JSON values from the run's parameters and its upstream results.</summary>
public static class TaskInputs
{
    /// <summary>
    /// The task's arguments as JSON; every referenced upstream result must be present. <paramref name="element"/> gives
    /// a mapped child its element of an argument instead of the whole list, or null for an argument it takes whole.
    /// </summary>
    public static IReadOnlyDictionary<string, JsonElement> Resolve(
        TaskNode task,
        IReadOnlyDictionary<string, JsonElement> parameters,
        Func<string, JsonElement> resultOf,
        Func<string, JsonElement?>? element = null)
    {
        // A task read from JSON lends its argument names; a flow built in C# has a dictionary, read here in its own order.
        var names = task.Inputs is ArgumentMap<TaskInput> map ? map.Names : task.Inputs.Keys.ToArray();
        var values = new JsonElement[names.Length];
        var i = 0;
        foreach (var (argument, input) in task.Inputs)
        {
            values[i++] = element?.Invoke(argument) ?? input switch
            {
                ParameterInput p => parameters[p.Parameter],
                TaskOutput { Path: { Count: > 0 } path } o => Follow(resultOf(o.Task), path),
                TaskOutput o => resultOf(o.Task),
                ConstantInput c => c.Value,
                _ => throw new InvalidOperationException($"task '{task.Slug}': argument '{argument}' has an unknown input kind {input.GetType().Name}"),
            };
        }

        return new ArgumentMap<JsonElement>(names, values);
    }

    static readonly JsonElement Null = JsonSerializer.SerializeToElement<object?>(null);

    /// <summary>The part of <paramref name="value"/> the path leads to (object keys, or array indexes), or JSON null.</summary>
    public static JsonElement Follow(JsonElement value, IReadOnlyList<string> path)
    {
        foreach (var step in path)
        {
            if (value.ValueKind == JsonValueKind.Object && value.TryGetProperty(step, out var member))
                value = member;
            else if (value.ValueKind == JsonValueKind.Array && int.TryParse(step, System.Globalization.NumberStyles.None,
                         System.Globalization.CultureInfo.InvariantCulture, out var index) && index < value.GetArrayLength())
                value = value[index];
            else
                return Null;
        }

        return value;
    }

    /// <summary>A list of lists as one list (Prefect's <c>flatten</c>): the items of every inner list, in order; an item that is not a list stays as it is.</summary>
    public static JsonElement Flatten(JsonElement value)
    {
        return value.ValueKind != JsonValueKind.Array
            ? value
            : JsonSerializer.SerializeToElement(value.EnumerateArray().SelectMany(item =>
                item.ValueKind == JsonValueKind.Array ? item.EnumerateArray() : Enumerable.Repeat(item, 1)));
    }
}

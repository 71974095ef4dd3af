using System.Text.Json;

namespace Lume.Tasks;

/// <summary>A task's arguments as JSON, read into .NET types with errors that name the task and the argument.</summary>
public sealed class TaskArguments(string taskSlug, IReadOnlyDictionary<string, JsonElement> values)
{
    static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web) { RespectNullableAnnotations = true };

    public IReadOnlyDictionary<string, JsonElement> Values { get; } = values;

    public bool Contains(string name) => Values.ContainsKey(name);

    /// <summary>The argument as <typeparamref name="T"/>; a missing or mistyped argument is a TaskArgumentError.</summary>
    public T Get<T>(string name) => (T)Get(name, typeof(T))!;

    /// <summary>The argument as <typeparamref name="T"/>, or <paramref name="fallback"/> when the flow does not pass it.</summary>
    public T Get<T>(string name, T fallback) => Values.ContainsKey(name) ? Get<T>(name) : fallback;

    /// <summary>The argument converted to <paramref name="type"/>.</summary>
    public object? Get(string name, Type type)
    {
        if (!Values.TryGetValue(name, out var value))
            throw new TaskFailedException("TaskArgumentError", $"task '{taskSlug}': argument '{name}' is missing");
        try
        {
            return value.Deserialize(type, Options);
        }
        catch (JsonException e)
        {
            throw new TaskFailedException("TaskArgumentError",
                $"task '{taskSlug}': argument '{name}' should be {Describe(type)} but is {Describe(value)}: {e.Message}");
        }
    }

    static string Describe(Type type) => type == typeof(string) ? "a string" : type.Name;

    static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };
}

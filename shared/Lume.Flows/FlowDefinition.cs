using System.Text.Json;
using System.Text.Json.Serialization;

namespace Lume.Flows;

/// <summary>A flow: a named, versioned DAG of tasks with declared JSON parameters.</summary>
public sealed record FlowDefinition(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("version")] string Version,
    [property: JsonPropertyName("parameters")] IReadOnlyList<FlowParameter> Parameters,
    [property: JsonPropertyName("tasks")] IReadOnlyList<TaskNode> Tasks)
{
    /// <summary>The task with this slug, or null.</summary>
    public TaskNode? FindTask(string slug) => Tasks.FirstOrDefault(t => t.Slug == slug);

    /// <summary>The slugs of the tasks that must be done before <paramref name="task"/> runs: those it takes outputs from, and its explicit upstreams.</summary>
    public static IEnumerable<string> UpstreamOf(TaskNode task) =>
        task.Inputs.Values.OfType<TaskOutput>().Select(o => o.Task).Concat(task.Upstream).Distinct();
}

/// <summary>A declared flow parameter. Without a default it must be given in every run.</summary>
public sealed record FlowParameter(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("default"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] JsonElement? Default = null);

/// <summary>One task call in a flow.</summary>
/// <param name="Slug">The task's name in this flow, unique within it.</param>
/// <param name="Type">The registered task type a worker runs.</param>
/// <param name="Inputs">Argument name to where its value comes from.</param>
/// <param name="Upstream">Extra tasks that must be done first although no output of theirs is used (Prefect's <c>set_upstream</c>).</param>
public sealed record TaskNode(
    [property: JsonPropertyName("slug")] string Slug,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("inputs")] IReadOnlyDictionary<string, TaskInput> Inputs,
    [property: JsonPropertyName("upstream")] IReadOnlyList<string> Upstream);

/// <summary>Where a task argument's value comes from.</summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "from")]
[JsonDerivedType(typeof(ParameterInput), "parameter")]
[JsonDerivedType(typeof(TaskOutput), "task")]
[JsonDerivedType(typeof(ConstantInput), "value")]
public abstract record TaskInput;

/// <summary>The value of a flow parameter.</summary>
public sealed record ParameterInput([property: JsonPropertyName("parameter")] string Parameter) : TaskInput;

/// <summary>The result of another task of the flow.</summary>
public sealed record TaskOutput([property: JsonPropertyName("task")] string Task) : TaskInput;

/// <summary>A JSON value fixed in the flow definition.</summary>
public sealed record ConstantInput([property: JsonPropertyName("value")] JsonElement Value) : TaskInput;

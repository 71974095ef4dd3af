using System.Text.Json;
using System.Text.Json.Serialization;

namespace Lume.Flows;

/// <summary>A flow: a named, versioned DAG of tasks with declared JSON parameters.</summary>
public sealed record FlowDefinition(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("version")] string Version,
    [property: JsonPropertyName("parameters")] IReadOnlyList<FlowParameter> Parameters,
    [property: JsonPropertyName("tasks")] IReadOnlyList<TaskNode> Tasks,
    [property: JsonPropertyName("timeout_seconds"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? TimeoutSeconds = null,
    [property: JsonPropertyName("reference_tasks"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<string>? ReferenceTasks = null)
{
    /// <summary>The task with this slug, or null.</summary>
    public TaskNode? FindTask(string slug) => Tasks.FirstOrDefault(t => t.Slug == slug);

    /// <summary>
    /// The task type the Scheduler runs itself, without a worker: it takes the result of the first of its arguments
    /// (in argument name order) whose task completed, and is skipped when every one was skipped (Prefect's <c>merge</c>).
    /// </summary>
    public const string MergeType = "merge";

    /// <summary>
    /// The task type the Scheduler runs as another registered flow's run (a subflow): its arguments are that run's
    /// parameters, its result the run's outputs or one of its task's result (see <see cref="TaskNode.Subflow"/>).
    /// </summary>
    public const string SubflowType = "subflow";

    /// <summary>
    /// The slugs of the tasks that must be done before <paramref name="task"/> runs: those it takes outputs from, its
    /// explicit upstreams, and the conditions of the cases it is in.
    /// </summary>
    public static IEnumerable<string> UpstreamOf(TaskNode task) =>
        task.Inputs.Values.OfType<TaskOutput>().Select(o => o.Task).Concat(task.Upstream)
            .Concat(task.Case?.Select(c => c.Task) ?? []).Distinct();
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
/// <param name="Retry">How failed attempts are retried; null: they are not.</param>
/// <param name="TimeoutSeconds">How long one attempt may run before it is cancelled and counted as timed out; null: no limit.</param>
/// <param name="Trigger">What the states of its upstream tasks must be for the task to run (Prefect 1's triggers).</param>
/// <param name="Case">The branches the task is in: it runs only if each condition task's result equals the value; otherwise it is skipped.</param>
/// <param name="Cache">How long a result of this task with the same inputs is reused instead of running it again; null: never.</param>
/// <param name="Map">
/// The arguments the task is mapped over (Prefect's <c>task.map</c>): each must be a list at run time, all of one length,
/// and one child task <c>slug[i]</c> runs per element with element i of each; the other arguments are passed whole to
/// every child (unmapped). The task's result is the list of its children's results, in order. Null: not mapped.
/// </param>
/// <param name="Flatten">Mapped arguments whose list of lists is flattened by one level before mapping (Prefect's <c>flatten</c>).</param>
/// <param name="Subflow">For a task of type <c>subflow</c>, the flow it runs.</param>
public sealed record TaskNode(
    [property: JsonPropertyName("slug"), JsonConverter(typeof(SlugJsonConverter))] string Slug,
    [property: JsonPropertyName("type"), JsonConverter(typeof(SharedNameJsonConverter))] string Type,
    [property: JsonPropertyName("inputs"), JsonConverter(typeof(TaskInputsJsonConverter))] IReadOnlyDictionary<string, TaskInput> Inputs,
    [property: JsonPropertyName("upstream"), JsonConverter(typeof(SlugListJsonConverter))] IReadOnlyList<string> Upstream,
    [property: JsonPropertyName("retry"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] RetryPolicy? Retry = null,
    [property: JsonPropertyName("timeout_seconds"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? TimeoutSeconds = null,
    [property: JsonPropertyName("trigger"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] Trigger Trigger = Trigger.AllSuccessful,
    [property: JsonPropertyName("case"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<CaseCondition>? Case = null,
    [property: JsonPropertyName("cache"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] CachePolicy? Cache = null,
    [property: JsonPropertyName("map"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<string>? Map = null,
    [property: JsonPropertyName("flatten"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<string>? Flatten = null,
    [property: JsonPropertyName("subflow"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] SubflowCall? Subflow = null)
{
    /// <summary>Whether the task is mapped: it runs as one child per element of its mapped arguments.</summary>
    [JsonIgnore]
    public bool IsMapped => Map is { Count: > 0 };
}

/// <summary>
/// The slugs of a mapped task's children: <c>square[0]</c>, <c>square[1]</c>, ... A flow's own slugs never hold
/// brackets, so a slug with an index is always a child.
/// </summary>
public static class MappedSlug
{
    /// <summary>The slug of child <paramref name="index"/> of <paramref name="parent"/>.</summary>
    public static string Of(string parent, int index) => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{parent}[{index}]");

    /// <summary>The parent's slug and the index, for a child's slug; (null, -1) for any other.</summary>
    public static (string? Parent, int Index) Parse(string slug)
    {
        if (!slug.EndsWith(']'))
            return (null, -1);
        var open = slug.LastIndexOf('[');
        return open > 0 && int.TryParse(slug.AsSpan(open + 1, slug.Length - open - 2), System.Globalization.NumberStyles.None,
            System.Globalization.CultureInfo.InvariantCulture, out var index)
            ? (slug[..open], index)
            : (null, -1);
    }
}

/// <summary>
/// Reuse of a task's result (Prefect's <c>cache_for</c> and <c>cache_key</c>): a call of the task whose cache key has a
/// result stored less than <paramref name="ForSeconds"/> ago completes at once, as <c>cached</c>, with that result.
/// </summary>
/// <param name="Key">Replaces the task type in the key, so that calls of different tasks can share results; null: the task type.</param>
/// <param name="Version">Part of the key: change it when the task's code changes what it returns; null: "1".</param>
public sealed record CachePolicy(
    [property: JsonPropertyName("for_seconds")] double ForSeconds,
    [property: JsonPropertyName("key"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Key = null,
    [property: JsonPropertyName("version"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Version = null)
{
    /// <summary>
    /// The cache key of a call with these inputs: a SHA-256 over the key (or task type), the version and the inputs as
    /// canonical JSON (object members in ordinal order), so the same call has the same key on every Scheduler.
    /// </summary>
    public string KeyFor(string taskType, IReadOnlyDictionary<string, JsonElement> inputs)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartArray();
            writer.WriteStringValue(Key ?? taskType);
            writer.WriteStringValue(Version ?? "1");
            writer.WriteStartObject();
            foreach (var (name, value) in inputs.OrderBy(i => i.Key, StringComparer.Ordinal))
            {
                writer.WritePropertyName(name);
                WriteCanonical(writer, value);
            }

            writer.WriteEndObject();
            writer.WriteEndArray();
        }

        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(buffer.ToArray()));
    }

    static void WriteCanonical(Utf8JsonWriter writer, JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (var member in value.EnumerateObject().OrderBy(m => m.Name, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(member.Name);
                    WriteCanonical(writer, member.Value);
                }

                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in value.EnumerateArray())
                    WriteCanonical(writer, item);
                writer.WriteEndArray();
                break;
            default:
                value.WriteTo(writer);
                break;
        }
    }
}

/// <summary>The flow a subflow task runs as a child run.</summary>
/// <param name="Flow">A flow registered with the Scheduler.</param>
/// <param name="Version">Its version; null: the newest when the task is released.</param>
/// <param name="Task">The child run's task whose result is the subflow task's result; null: the child run's outputs (its terminal tasks' results by slug).</param>
/// <param name="Tasks">Instead of the outputs, these tasks' results by slug (terminal or not), as a flow of flows takes them.</param>
public sealed record SubflowCall(
    [property: JsonPropertyName("flow")] string Flow,
    [property: JsonPropertyName("version"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Version = null,
    [property: JsonPropertyName("task"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Task = null,
    [property: JsonPropertyName("tasks"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<string>? Tasks = null);

/// <summary>One branch condition (Prefect's <c>case(task, value)</c>): the task's result must equal <paramref name="Value"/>.</summary>
public sealed record CaseCondition(
    [property: JsonPropertyName("task"), JsonConverter(typeof(SlugJsonConverter))] string Task,
    [property: JsonPropertyName("value")] JsonElement Value);

/// <summary>
/// When a task runs, decided once every upstream task has ended (Prefect 1's triggers). A task whose trigger is not met
/// ends <c>trigger_failed</c>; with the default, a task whose upstream failed or was skipped is skipped instead.
/// Written in JSON in snake case: <c>all_finished</c>.
/// </summary>
[JsonConverter(typeof(TriggerJsonConverter))]
public enum Trigger
{
    /// <summary>Every upstream task completed (the default).</summary>
    AllSuccessful,

    /// <summary>Every upstream task failed (failed, timed out or its trigger failed).</summary>
    AllFailed,

    /// <summary>At least one upstream task completed.</summary>
    AnySuccessful,

    /// <summary>At least one upstream task failed.</summary>
    AnyFailed,

    /// <summary>Always, once every upstream task has ended, however: for cleanup and notification.</summary>
    AllFinished,

    /// <summary>Every upstream task completed, and then someone approved it (<c>lume runs approve RUN_ID TASK</c>, or an ApproveTask message).</summary>
    ManualOnly,
}

/// <summary>Triggers as JSON: <c>all_successful</c>, <c>any_failed</c>, and so on; numbers are refused.</summary>
public sealed class TriggerJsonConverter() : JsonStringEnumConverter<Trigger>(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false);

/// <summary>
/// Retries of a task: after the n-th failed attempt (n = 1, 2, ...) the next one starts
/// <c>min(DelaySeconds * Backoff^(n-1), MaxDelaySeconds)</c> seconds later, give or take <c>Jitter</c> of it.
/// </summary>
/// <param name="Retries">How many attempts may follow the first one.</param>
/// <param name="Backoff">The factor the delay grows by with each attempt; 1 keeps it constant.</param>
/// <param name="Jitter">A fraction (0 to 1) of each delay by which it is spread at random, so that retries of many tasks don't arrive together.</param>
/// <param name="RetryOn">
/// The error types retried; null or empty: every error a task does not mark as final (bad input is final: see
/// <c>TaskFailedException.Retryable</c>). A timed-out attempt has the error type <c>TimedOut</c>.
/// </param>
public sealed record RetryPolicy(
    [property: JsonPropertyName("retries")] int Retries,
    [property: JsonPropertyName("delay_seconds")] double DelaySeconds = 0,
    [property: JsonPropertyName("backoff")] double Backoff = 1,
    [property: JsonPropertyName("max_delay_seconds"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? MaxDelaySeconds = null,
    [property: JsonPropertyName("jitter")] double Jitter = 0,
    [property: JsonPropertyName("retry_on"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<string>? RetryOn = null)
{
    /// <summary>Whether a failed attempt number <paramref name="attempt"/> with this error is followed by another.</summary>
    public bool ShouldRetry(int attempt, string errorType, bool retryable) =>
        attempt <= Retries && (RetryOn is { Count: > 0 } list ? list.Contains(errorType) : retryable);

    /// <summary>The wait before the attempt after <paramref name="attempt"/>; <paramref name="random"/> (0 to 1) spreads it by the jitter.</summary>
    public TimeSpan DelayAfter(int attempt, double random)
    {
        var delay = DelaySeconds * Math.Pow(Backoff, attempt - 1);
        if (MaxDelaySeconds is { } max)
            delay = Math.Min(delay, max);
        delay *= 1 + Jitter * (2 * random - 1);
        return TimeSpan.FromSeconds(Math.Max(0, delay));
    }
}

/// <summary>Where a task argument's value comes from.</summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "from")]
[JsonDerivedType(typeof(ParameterInput), "parameter")]
[JsonDerivedType(typeof(TaskOutput), "task")]
[JsonDerivedType(typeof(ConstantInput), "value")]
public abstract record TaskInput;

/// <summary>The value of a flow parameter.</summary>
public sealed record ParameterInput([property: JsonPropertyName("parameter")] string Parameter) : TaskInput;

/// <summary>The result of another task of the flow, or with <paramref name="Path"/> a part of it: object keys (or array indexes) in turn; null where the path leads nowhere.</summary>
public sealed record TaskOutput(
    [property: JsonPropertyName("task"), JsonConverter(typeof(SlugJsonConverter))] string Task,
    [property: JsonPropertyName("path"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<string>? Path = null) : TaskInput;

/// <summary>A JSON value fixed in the flow definition.</summary>
public sealed record ConstantInput : TaskInput, IJsonOnDeserialized
{
    public ConstantInput(JsonElement value) => Value = value;

    /// <summary>The value. A definition read from JSON keeps all its constants in one document (see CompactJson.cs).</summary>
    [JsonPropertyName("value"), JsonConverter(typeof(ConstantJsonConverter))]
    public JsonElement Value { get; private set; }

    void IJsonOnDeserialized.OnDeserialized() => DefinitionReading.Claim(this);

    internal void Fill(JsonElement value) => Value = value;
}

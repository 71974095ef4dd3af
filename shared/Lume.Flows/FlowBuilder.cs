using System.Reflection;
using System.Text.Json;

namespace Lume.Flows;

/// <summary>
/// Writes a flow in C# about as briefly as a Prefect flow:
/// <code>
/// var flow1 = Flow.Define("flow1", f =&gt;
/// {
///     var text1 = f.Parameter("text1");
///     var newText = f.Task("append_text", new { text1, text2 = f.Parameter("text2") });
///     f.Task("save_file", new { obj = newText, filename = f.Parameter("filename") }, name: "save_text_file")
///         .SetUpstream(f.Task("configure_lume_services"));
/// });
/// </code>
/// Arguments are given as an anonymous object (or a dictionary): a <see cref="ParameterRef"/> passes a flow
/// parameter, a <see cref="TaskRef"/> passes that task's result, anything else is a constant serialised to JSON.
/// </summary>
public static class Flow
{
    /// <summary>Builds and checks a flow; a broken graph throws <see cref="FlowDefinitionException"/> listing every problem.</summary>
    /// <param name="timeout">Cancel a run of the flow that has not ended this long after it was accepted.</param>
    public static FlowDefinition Define(string name, Action<FlowBuilder> body, string version = "1", TimeSpan? timeout = null)
    {
        var builder = new FlowBuilder(name, version, timeout);
        body(builder);
        var flow = builder.Build();
        var problems = FlowChecks.CheckGraph(flow);
        return problems.Count == 0 ? flow : throw new FlowDefinitionException(problems);
    }
}

/// <summary>Collects parameters and task calls; see <see cref="Flow.Define"/>.</summary>
public sealed class FlowBuilder
{
    readonly string _name;
    readonly string _version;
    readonly List<FlowParameter> _parameters = [];
    readonly List<TaskRef> _tasks = [];
    readonly TimeSpan? _timeout;
    string[]? _referenceTasks;
    readonly List<CaseCondition> _cases = [];

    internal FlowBuilder(string name, string version, TimeSpan? timeout)
    {
        _name = name;
        _version = version;
        _timeout = timeout;
    }

    /// <summary>Declares a required flow parameter.</summary>
    public ParameterRef Parameter(string name)
    {
        _parameters.Add(new FlowParameter(name));
        return new ParameterRef(name);
    }

    /// <summary>Declares an optional flow parameter with a JSON-serialisable default.</summary>
    public ParameterRef Parameter<T>(string name, T defaultValue)
    {
        _parameters.Add(new FlowParameter(name, JsonSerializer.SerializeToElement(defaultValue)));
        return new ParameterRef(name);
    }

    /// <summary>
    /// Calls a task. Its slug is <paramref name="name"/>, or else the task type, numbered from the second call
    /// of the same type on (<c>append_text</c>, <c>append_text-2</c>, ...).
    /// </summary>
    /// <param name="arguments">An anonymous object or an <c>IDictionary&lt;string, object?&gt;</c> of arguments.</param>
    public TaskRef Task(string type, object? arguments = null, string? name = null)
    {
        var slug = name ?? UniqueSlug(type);
        var task = new TaskRef(slug, type, ReadArguments(slug, arguments), _cases.Count == 0 ? null : _cases.ToArray());
        _tasks.Add(task);
        return task;
    }

    /// <summary>
    /// Calls a task once per element of its arguments, known only at run time (Prefect's <c>task.map</c>): every
    /// argument is mapped unless wrapped in <see cref="Unmapped"/>. Each mapped argument must be a list, all of one
    /// length; child <c>slug[i]</c> gets element i of each. Passed on, the call stands for the list of the children's
    /// results in order; a task mapped over it maps element by element.
    /// <code>
    /// var squares = f.Map("square", new { x = f.Parameter("values"), power = f.Unmapped(2) });
    /// f.Task("sum", new { values = squares });
    /// </code>
    /// </summary>
    public TaskRef Map(string type, object? arguments = null, string? name = null)
    {
        var slug = name ?? UniqueSlug(type);
        var pairs = Pairs(arguments).ToArray();
        var mapped = pairs.Where(p => p.Value is not UnmappedArgument).Select(p => p.Key).ToArray();
        if (mapped.Length == 0)
            throw new FlowDefinitionException([$"task '{slug}': a mapped task needs at least one mapped argument; every one is unmapped"]);
        var flattened = pairs.Where(p => p.Value is FlattenedArgument).Select(p => p.Key).ToArray();
        var inputs = pairs.ToDictionary(p => p.Key, p => ToInput(slug, p.Key, p.Value switch
        {
            UnmappedArgument u => u.Value,
            FlattenedArgument f => f.Value,
            var other => other,
        }));
        var task = new TaskRef(slug, type, inputs, _cases.Count == 0 ? null : _cases.ToArray())
        {
            MapArguments = mapped,
            FlattenArguments = flattened.Length == 0 ? null : flattened,
        };
        _tasks.Add(task);
        return task;
    }

    /// <summary>
    /// Runs another registered flow as a child run of this one (a subflow): <paramref name="parameters"/> are its
    /// parameters, bound like a task's arguments. The call's result is the child run's outputs (its terminal tasks'
    /// results by slug), or the result of its task <paramref name="task"/>. A failed child run fails the call;
    /// cancelling this run cancels the child.
    /// <code>
    /// var sum = f.Subflow("map_square", new { values }, task: "sum");
    /// </code>
    /// </summary>
    public TaskRef Subflow(string flow, object? parameters = null, string? name = null, string? version = null, string? task = null)
    {
        var slug = name ?? UniqueSlug(flow);
        var call = new TaskRef(slug, FlowDefinition.SubflowType, ReadArguments(slug, parameters), _cases.Count == 0 ? null : _cases.ToArray())
        {
            SubflowCall = new SubflowCall(flow, version, task),
        };
        _tasks.Add(call);
        return call;
    }

    /// <summary>An argument of <see cref="Map"/> passed whole to every child instead of mapped (Prefect's <c>unmapped</c>).</summary>
    public object Unmapped(object? value) => new UnmappedArgument(value);

    /// <summary>A mapped argument whose list of lists is mapped as one list (Prefect's <c>flatten</c>): <c>[[1, 2], [3]]</c> maps over 1, 2, 3.</summary>
    public object Flatten(object? value) => new FlattenedArgument(value);

    sealed record UnmappedArgument(object? Value);

    sealed record FlattenedArgument(object? Value);

    /// <summary>
    /// A branch, as Prefect's <c>with case(condition, value):</c>: the tasks called inside the <c>using</c> block run
    /// only when <paramref name="condition"/>'s result equals <paramref name="value"/>; otherwise they, and the tasks
    /// after them, are skipped. Cases nest.
    /// <code>
    /// var local = f.Task("check_local_execution");
    /// using (f.Case(local, false))
    ///     f.Task("save_db_result", new { result });
    /// </code>
    /// </summary>
    public IDisposable Case(TaskRef condition, object? value)
    {
        var added = new CaseCondition(condition.Slug, JsonSerializer.SerializeToElement(value));
        _cases.Add(added);
        return new CaseScope(() => _cases.Remove(added));
    }

    /// <summary>
    /// The result of whichever branch ran (Prefect's <c>merge</c>): the first of <paramref name="branches"/> that
    /// completed; skipped when every one was skipped. The Scheduler decides it itself; no worker runs it.
    /// </summary>
    public TaskRef Merge(params TaskRef[] branches) => MergeCore(null, branches);

    /// <summary>A merge with a name of its own; see <see cref="Merge(TaskRef[])"/>.</summary>
    public TaskRef Merge(string name, params TaskRef[] branches) => MergeCore(name, branches);

    TaskRef MergeCore(string? name, TaskRef[] branches)
    {
        var arguments = branches.Select((b, i) => new KeyValuePair<string, object?>($"branch_{i + 1:D3}", b)).ToDictionary();
        return Task(FlowDefinition.MergeType, arguments, name).Trigger(Trigger.AllFinished);
    }

    sealed class CaseScope(Action end) : IDisposable
    {
        public void Dispose() => end();
    }

    /// <summary>
    /// The tasks whose states decide whether a run of the flow completed or failed. By default these are the terminal
    /// tasks, except that a terminal task with a trigger other than all_successful (a cleanup that always runs, a
    /// notification on failure) stands aside for its own upstream tasks, so that it does not hide their failure.
    /// </summary>
    public FlowBuilder ReferenceTasks(params TaskRef[] tasks)
    {
        _referenceTasks = tasks.Select(t => t.Slug).ToArray();
        return this;
    }

    string UniqueSlug(string type)
    {
        if (_tasks.All(t => t.Slug != type))
            return type;
        var n = 2;
        while (_tasks.Any(t => t.Slug == $"{type}-{n}"))
            n++;
        return $"{type}-{n}";
    }

    static Dictionary<string, TaskInput> ReadArguments(string slug, object? arguments) =>
        Pairs(arguments).ToDictionary(p => p.Key, p => p.Value is UnmappedArgument or FlattenedArgument
            ? throw new FlowDefinitionException([$"task '{slug}': argument '{p.Key}' is marked unmapped or flatten, which only a mapped task (f.Map) takes"])
            : ToInput(slug, p.Key, p.Value));

    static IEnumerable<KeyValuePair<string, object?>> Pairs(object? arguments) => arguments switch
    {
        null => [],
        IEnumerable<KeyValuePair<string, object?>> dictionary => dictionary,
        _ => arguments.GetType()
            .GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Select(p => new KeyValuePair<string, object?>(p.Name, p.GetValue(arguments))),
    };

    static TaskInput ToInput(string slug, string argument, object? value) => value switch
    {
        ParameterRef p => new ParameterInput(p.Name),
        TaskRef t => new TaskOutput(t.Slug),
        TaskInput input => input,
        // A reference inside a list would otherwise be written out as a constant, and the task would get the
        // reference's fields instead of the result, and run without waiting for it.
        System.Collections.IEnumerable list when value is not string && list.Cast<object?>().Any(v => v is TaskRef or ParameterRef) =>
            throw new FlowDefinitionException([$"task '{slug}': argument '{argument}' holds task results or parameters inside a list, " +
                "which a task input cannot be; pass each as an argument of its own (an IDictionary<string, object?> of arguments takes any number)"]),
        _ => new ConstantInput(JsonSerializer.SerializeToElement(value)),
    };

    internal FlowDefinition Build() => new(
        _name,
        _version,
        _parameters.ToArray(),
        _tasks.Select(t => new TaskNode(t.Slug, t.Type, t.Inputs, t.UpstreamSlugs.ToArray(), t.RetryPolicy, t.TimeoutSeconds, t.TriggerRule, t.Cases, t.CachePolicy,
            t.MapArguments, t.FlattenArguments, t.SubflowCall)).ToArray(),
        _timeout?.TotalSeconds,
        _referenceTasks);
}

/// <summary>A flow parameter, passed as a task argument.</summary>
public sealed record ParameterRef(string Name);

/// <summary>A task call; passed as an argument it stands for the task's result.</summary>
public sealed class TaskRef
{
    readonly List<string> _upstream = [];

    internal TaskRef(string slug, string type, IReadOnlyDictionary<string, TaskInput> inputs, IReadOnlyList<CaseCondition>? cases = null)
    {
        Slug = slug;
        Type = type;
        Inputs = inputs;
        Cases = cases;
    }

    internal IReadOnlyList<CaseCondition>? Cases { get; }

    /// <summary>The task's unique name in the flow.</summary>
    public string Slug { get; }

    /// <summary>The registered task type.</summary>
    public string Type { get; }

    internal IReadOnlyDictionary<string, TaskInput> Inputs { get; }

    internal IReadOnlyList<string> UpstreamSlugs => _upstream;

    internal RetryPolicy? RetryPolicy { get; private set; }

    internal double? TimeoutSeconds { get; private set; }

    internal Trigger TriggerRule { get; private set; }

    internal CachePolicy? CachePolicy { get; private set; }

    internal IReadOnlyList<string>? MapArguments { get; init; }

    internal IReadOnlyList<string>? FlattenArguments { get; init; }

    internal SubflowCall? SubflowCall { get; init; }

    /// <summary>
    /// Reuses a result of this task with the same inputs for <paramref name="cacheFor"/>: such a call completes at once
    /// as <c>cached</c>. <paramref name="key"/> lets calls of different tasks share results; change
    /// <paramref name="version"/> when the task's code changes what it returns. <c>lume run --no-cache</c> bypasses it.
    /// </summary>
    public TaskRef Cache(TimeSpan cacheFor, string? key = null, string? version = null)
    {
        CachePolicy = new CachePolicy(cacheFor.TotalSeconds, key, version);
        return this;
    }

    /// <summary>
    /// When the task runs, decided once every upstream task has ended: <see cref="Flows.Trigger.AllFinished"/> for a
    /// cleanup that always runs, <see cref="Flows.Trigger.AnyFailed"/> for a notification on failure, and so on.
    /// </summary>
    public TaskRef Trigger(Trigger trigger)
    {
        TriggerRule = trigger;
        return this;
    }

    /// <summary>
    /// Retries a failed attempt up to <paramref name="retries"/> times, the first after <paramref name="delay"/>, each
    /// next one <paramref name="backoff"/> times later than the one before (at most <paramref name="maxDelay"/>),
    /// spread by <paramref name="jitter"/> (a fraction of the delay). Only the error types in <paramref name="on"/> are
    /// retried when it is given; otherwise every error the task does not mark as final.
    /// </summary>
    public TaskRef Retry(int retries, TimeSpan? delay = null, double backoff = 1, TimeSpan? maxDelay = null, double jitter = 0, params string[] on)
    {
        RetryPolicy = new RetryPolicy(retries, delay?.TotalSeconds ?? 0, backoff, maxDelay?.TotalSeconds, jitter, on.Length == 0 ? null : on);
        return this;
    }

    /// <summary>Cancels an attempt that runs longer than <paramref name="timeout"/>; it counts as failed with error type TimedOut, and may be retried.</summary>
    public TaskRef Timeout(TimeSpan timeout)
    {
        TimeoutSeconds = timeout.TotalSeconds;
        return this;
    }

    /// <summary>Runs this task only after <paramref name="upstream"/> are done, although it takes none of their results.</summary>
    public TaskRef SetUpstream(params TaskRef[] upstream)
    {
        foreach (var task in upstream)
            if (!_upstream.Contains(task.Slug))
                _upstream.Add(task.Slug);
        return this;
    }
}

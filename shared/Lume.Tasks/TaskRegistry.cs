using System.Text.Json;
using Lume.Flows;
using Microsoft.Extensions.DependencyInjection;

namespace Lume.Tasks;

/// <summary>A task type offered by this worker; <paramref name="DefaultRetry"/> applies to its calls in flows that set no retry policy of their own.</summary>
public sealed record TaskRegistration(string Name, Func<IServiceProvider, ILumeTask> Create, RetryPolicy? DefaultRetry = null);

/// <summary>The task types this worker offers, by name.</summary>
public sealed class TaskRegistry
{
    readonly Dictionary<string, TaskRegistration> _tasks = new(StringComparer.Ordinal);

    public TaskRegistry(IEnumerable<TaskRegistration> registrations)
    {
        foreach (var registration in registrations)
            if (!_tasks.TryAdd(registration.Name, registration))
                throw new InvalidOperationException($"task type '{registration.Name}' is registered twice");
    }

    public IReadOnlySet<string> Names => _tasks.Keys.ToHashSet(StringComparer.Ordinal);

    /// <summary>The flow with each task's retry policy filled in from its task type's default, where the flow sets none.</summary>
    public FlowDefinition WithDefaults(FlowDefinition flow) => flow with
    {
        Tasks = flow.Tasks.Select(t => t.Retry is null && _tasks.TryGetValue(t.Type, out var type) && type.DefaultRetry is { } retry
            ? t with { Retry = retry }
            : t).ToArray(),
    };

    /// <summary>Runs a task and returns its result as JSON.</summary>
    public async Task<JsonElement> RunAsync(IReadOnlyDictionary<string, JsonElement> inputs, TaskContext context)
    {
        if (!_tasks.TryGetValue(context.TaskType, out var registration))
            throw new TaskFailedException("UnknownTaskType",
                $"task '{context.TaskSlug}': this worker has no task type '{context.TaskType}'; it offers: {string.Join(", ", Names.Order(StringComparer.Ordinal))}");

        var task = registration.Create(context.Services);
        var result = await task.RunAsync(new TaskArguments(context.TaskSlug, inputs), context);
        return ToJson(result, context);
    }

    // The result as JSON, checked to travel: NaN and infinities have no JSON form, and what JSON can write may still
    // break a message envelope (nesting past 32 levels, a lone surrogate), which would leave the report unsendable.
    static JsonElement ToJson(object? result, TaskContext context)
    {
        JsonElement element;
        try
        {
            element = result is JsonElement given ? given : JsonSerializer.SerializeToElement(result, result?.GetType() ?? typeof(object));
        }
        catch (Exception e) when (e is JsonException or ArgumentException or NotSupportedException)
        {
            throw new TaskFailedException(InvalidResult, $"task '{context.TaskSlug}': the result ({result?.GetType().Name}) is not JSON: {e.Message}");
        }

        return JsonLimits.Check(element, "result") is { } problem
            ? throw new TaskFailedException(InvalidResult, $"task '{context.TaskSlug}': the result cannot travel as JSON: {problem}")
            : element;
    }

    /// <summary>The error type of a result that is not JSON, or cannot travel as JSON.</summary>
    public const string InvalidResult = "InvalidResult";
}

/// <summary>Registers task types.</summary>
public static class TaskRegistrationExtensions
{
    /// <summary>Registers a method or lambda as a task type; its parameters are bound by name from the task's arguments.</summary>
    public static IServiceCollection AddLumeTask(this IServiceCollection services, string name, Delegate method)
    {
        var task = new DelegateTask(method);
        return services.AddSingleton(new TaskRegistration(name, _ => task));
    }

    /// <summary>Registers a class as a task type; a new instance is made for each execution.</summary>
    /// <param name="defaultRetry">The retry policy of the type's calls in flows that set none.</param>
    public static IServiceCollection AddLumeTask<TTask>(this IServiceCollection services, string name, RetryPolicy? defaultRetry = null)
        where TTask : class, ILumeTask
    {
        services.AddTransient<TTask>();
        return services.AddSingleton(new TaskRegistration(name, sp => sp.GetRequiredService<TTask>(), defaultRetry));
    }
}

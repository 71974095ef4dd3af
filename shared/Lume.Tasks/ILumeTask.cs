namespace Lume.Tasks;

/// <summary>A task written as a class; register it with <c>services.AddLumeTask&lt;T&gt;("name")</c>. Resolved per execution, so it may take scoped services.</summary>
public interface ILumeTask
{
    /// <summary>Runs the task. The returned value is serialised to JSON and becomes the task's result.</summary>
    Task<object?> RunAsync(TaskArguments arguments, TaskContext context);
}

/// <summary>What a task knows about the execution it is part of.</summary>
public sealed record TaskContext(
    Guid RunId,
    string Flow,
    string TaskSlug,
    string TaskType,
    int Attempt,
    IServiceProvider Services,
    CancellationToken CancellationToken);

/// <summary>
/// A task ends with this error type and message, e.g. <c>EnvironmentNotConfigured</c>; any other exception
/// is reported with its type name, and counts as retryable. <paramref name="retryable"/> says whether running it again
/// could succeed; the default, false, is for bad input, which a retry policy never retries.
/// </summary>
public sealed class TaskFailedException(string errorType, string message, bool retryable = false) : Exception(message)
{
    public string ErrorType { get; } = errorType;
    public bool Retryable { get; } = retryable;
}

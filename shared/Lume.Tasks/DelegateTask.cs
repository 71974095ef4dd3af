using System.Reflection;

namespace Lume.Tasks;

/// <summary>
/// A task written as a method or lambda. Each parameter is bound by name from the task's JSON arguments;
/// a <see cref="CancellationToken"/> or <see cref="TaskContext"/> parameter gets the execution's, and a
/// parameter the flow does not pass takes its default value or else a service from the container.
/// Task and ValueTask results are awaited.
/// </summary>
sealed class DelegateTask(Delegate method) : ILumeTask
{
    readonly ParameterInfo[] _parameters = method.Method.GetParameters();

    public async Task<object?> RunAsync(TaskArguments arguments, TaskContext context)
    {
        var unknown = arguments.Values.Keys.Where(k => _parameters.All(p => p.Name != k)).ToArray();
        if (unknown.Length > 0)
            throw new TaskFailedException("TaskArgumentError",
                $"task '{context.TaskSlug}': type '{context.TaskType}' takes no argument {string.Join(", ", unknown.Select(u => $"'{u}'"))}; it takes: {string.Join(", ", _parameters.Select(p => p.Name))}");

        var values = _parameters.Select(p => Bind(p, arguments, context)).ToArray();
        object? result;
        try
        {
            result = method.DynamicInvoke(values);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerException);
            throw;
        }

        return await Unwrap(result);
    }

    static object? Bind(ParameterInfo parameter, TaskArguments arguments, TaskContext context)
    {
        if (parameter.ParameterType == typeof(CancellationToken))
            return context.CancellationToken;
        if (parameter.ParameterType == typeof(TaskContext))
            return context;
        if (arguments.Contains(parameter.Name!))
            return arguments.Get(parameter.Name!, parameter.ParameterType);
        if (parameter.HasDefaultValue)
            return parameter.DefaultValue;
        return context.Services.GetService(parameter.ParameterType)
            ?? throw new TaskFailedException("TaskArgumentError", $"task '{context.TaskSlug}': argument '{parameter.Name}' is missing");
    }

    static async Task<object?> Unwrap(object? result)
    {
        switch (result)
        {
            case Task task:
                await task;
                return task.GetType().IsGenericType ? task.GetType().GetProperty("Result")!.GetValue(task) : null;
            case ValueTask valueTask:
                await valueTask;
                return null;
            case not null when result.GetType().IsGenericType && result.GetType().GetGenericTypeDefinition() == typeof(ValueTask<>):
                var asTask = (Task)result.GetType().GetMethod(nameof(ValueTask<int>.AsTask))!.Invoke(result, null)!;
                return await Unwrap(asTask);
            default:
                return result;
        }
    }
}

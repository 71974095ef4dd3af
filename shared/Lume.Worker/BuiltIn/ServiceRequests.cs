using Lume.Contracts;
using Lume.Tasks;
using MassTransit;

namespace Lume.Worker.BuiltIn;

/// <summary>How a built-in task asks a service: the answer it wants, or the service's refusal as the task's failure.</summary>
static class ServiceRequests
{
    public static Task<TAnswer> AskFilesAsync<TRequest, TAnswer>(this IRequestClient<TRequest> client, TRequest request, TaskContext context)
        where TRequest : class
        where TAnswer : class =>
        AskAsync<TRequest, TAnswer, FileRequestFailed>(client, request, context, f => (f.ErrorType, f.Message));

    public static Task<TAnswer> AskResultsAsync<TRequest, TAnswer>(this IRequestClient<TRequest> client, TRequest request, TaskContext context)
        where TRequest : class
        where TAnswer : class =>
        AskAsync<TRequest, TAnswer, ResultRequestFailed>(client, request, context, f => (f.ErrorType, f.Message));

    static async Task<TAnswer> AskAsync<TRequest, TAnswer, TRefusal>(
        IRequestClient<TRequest> client, TRequest request, TaskContext context, Func<TRefusal, (string ErrorType, string Message)> refusal)
        where TRequest : class
        where TAnswer : class
        where TRefusal : class
    {
        Response<TAnswer, TRefusal> response;
        try
        {
            response = await client.GetResponse<TAnswer, TRefusal>(request, context.CancellationToken);
        }
        catch (RequestTimeoutException)
        {
            // The request may still be in the service's queue; each built-in is idempotent, so a later attempt may repeat it.
            throw new TaskFailedException(TaskErrors.ServiceUnavailable,
                $"task '{context.TaskSlug}': no answer from the service to {typeof(TRequest).Name}; it may be down or busy", retryable: true);
        }

        if (response.Message is TRefusal refused)
        {
            var (errorType, message) = refusal(refused);
            throw new TaskFailedException(errorType, $"task '{context.TaskSlug}': {message}");
        }

        return (TAnswer)response.Message;
    }
}

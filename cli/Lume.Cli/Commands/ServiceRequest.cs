using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace Lume.Cli.Commands;

/// <summary>One request to a service, through the embedded services or over the broker, answered with a result or a refusal.</summary>
static class ServiceRequest
{
    public static Task<object> AskAsync<TRequest, TAnswer, TRefusal>(TRequest request, CancellationToken cancellationToken)
        where TRequest : class
        where TAnswer : class
        where TRefusal : class =>
        WithHostAsync(lume => AskAsync<TRequest, TAnswer, TRefusal>(lume, request, cancellationToken), cancellationToken);

    /// <summary>Asks through a host the caller has started (see <see cref="WithHostAsync{T}"/>).</summary>
    public static async Task<object> AskAsync<TRequest, TAnswer, TRefusal>(LumeHost lume, TRequest request, CancellationToken cancellationToken)
        where TRequest : class
        where TAnswer : class
        where TRefusal : class
    {
        var client = lume.Host.Services.GetRequiredService<IClientFactory>().CreateRequestClient<TRequest>();
        return (await client.GetResponse<TAnswer, TRefusal>(request, cancellationToken)).Message;
    }

    /// <summary>Runs <paramref name="body"/> with a started host, stopped afterwards.</summary>
    public static async Task<T> WithHostAsync<T>(Func<LumeHost, Task<T>> body, CancellationToken cancellationToken)
    {
        using var lume = LumeHost.Build();
        await lume.StartAsync(cancellationToken);
        try
        {
            return await body(lume);
        }
        finally
        {
            await lume.StopAsync();
        }
    }

    /// <summary>
    /// A service refused the request: its error on stderr, and the exit code: 2 for the request's own fault, 3 when the
    /// service could not do its work (its store is away or misconfigured), as for any service that failed.
    /// </summary>
    public static int Refused(string errorType, string message)
    {
        Console.Error.WriteLine($"error: {errorType}: {message}");
        return errorType is "ServiceUnavailable" or "StoreUnavailable" or "StoreMisconfigured" ? CliErrors.CouldNotStart : RunCommand.Rejected;
    }
}

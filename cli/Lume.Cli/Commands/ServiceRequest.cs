using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace Lume.Cli.Commands;

/// <summary>One request to a service, through the embedded services or over the broker, answered with a result or a refusal.</summary>
static class ServiceRequest
{
    public static async Task<object> AskAsync<TRequest, TAnswer, TRefusal>(TRequest request, CancellationToken cancellationToken)
        where TRequest : class
        where TAnswer : class
        where TRefusal : class
    {
        using var lume = LumeHost.Build();
        await lume.StartAsync(cancellationToken);
        try
        {
            var client = lume.Host.Services.GetRequiredService<IClientFactory>().CreateRequestClient<TRequest>();
            return (await client.GetResponse<TAnswer, TRefusal>(request, cancellationToken)).Message;
        }
        finally
        {
            await lume.StopAsync();
        }
    }

    /// <summary>A service refused the request: its error on stderr, and the exit code of a rejected request.</summary>
    public static int Refused(string errorType, string message)
    {
        Console.Error.WriteLine($"error: {errorType}: {message}");
        return RunCommand.Rejected;
    }
}

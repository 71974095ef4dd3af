using Lume.Contracts;
using Lume.Hosting;
using Lume.Results.Model;
using Lume.Storage;
using MassTransit;

namespace Lume.Results;

/// <summary>Stores a result; answers ResultStored with its rep, or ResultRequestFailed with nothing stored.</summary>
public sealed class StoreResultConsumer(ResultService results) : IConsumer<StoreResult>
{
    public Task Consume(ConsumeContext<StoreResult> context) => ResultAnswers.AnswerAsync(context, async () =>
    {
        var (rep, created) = await results.StoreAsync(context.Message.Result, context.CancellationToken);
        return new ResultStored(rep, created);
    });
}

/// <summary>Loads a result by its rep; answers ResultLoaded, or ResultRequestFailed.</summary>
public sealed class LoadResultConsumer(ResultService results) : IConsumer<LoadResult>
{
    public Task Consume(ConsumeContext<LoadResult> context) => ResultAnswers.AnswerAsync(context, async () =>
        new ResultLoaded(await results.LoadAsync(context.Message.Rep, context.Message.AttributeIndex, context.CancellationToken)));
}

/// <summary>Finds results by field values; answers ResultsFound, or ResultRequestFailed.</summary>
public sealed class QueryResultsConsumer(ResultService results) : IConsumer<QueryResults>
{
    public Task Consume(ConsumeContext<QueryResults> context) => ResultAnswers.AnswerAsync(context, async () =>
        new ResultsFound(await results.QueryAsync(context.Message.ProjectName, context.Message.Fields, context.Message.Limit, context.CancellationToken)));
}

static class ResultAnswers
{
    /// <summary>
    /// StoreMisconfigured when the settings are at fault (refused credentials or rights, values that cannot work), which
    /// only a change of settings mends; ServiceUnavailable when the server did not answer, which asking again later may mend.
    /// </summary>
    public static string ErrorTypeOf(StoreUnavailableException e) => e.Misconfigured ? "StoreMisconfigured" : "ServiceUnavailable";

    public static async Task AnswerAsync(ConsumeContext context, Func<Task<object>> answer)
    {
        using var activity = LumeTelemetry.Source.StartActivity($"results {context.SupportedMessageTypes.FirstOrDefault()?.Split(':').Last()}");
        object response;
        try
        {
            response = await answer();
        }
        catch (ResultException e)
        {
            activity?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, e.ErrorType);
            response = new ResultRequestFailed(e.ErrorType, e.Message);
        }
        catch (StoreUnavailableException e)
        {
            activity?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, ErrorTypeOf(e));
            response = new ResultRequestFailed(ErrorTypeOf(e), e.Message);
        }

        await context.RespondAsync(response);
    }
}

/// <summary>The Results service's queue.</summary>
public sealed class ResultConsumerDefinition<TConsumer> : ConsumerDefinition<TConsumer>
    where TConsumer : class, IConsumer
{
    public ResultConsumerDefinition() => EndpointName = LumeQueues.Results;
}

using System.Text.Json;
using System.Text.Json.Nodes;
using Lume.Hosting;
using Lume.Results.Model;
using Lume.Results.Stores;
using Lume.Storage;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Lume.Results;

/// <summary>Adds the Results service to a host.</summary>
public static class ResultsExtensions
{
    /// <summary>
    /// The Results service: consumes StoreResult, LoadResult and QueryResults, answers ResultStored, ResultLoaded,
    /// ResultsFound or ResultRequestFailed. Results are kept in MongoDB when <c>LUME_RESULTS_DB__HOST</c> or
    /// <c>__CONNECTION_STRING</c> is set, else in SQLite under the data folder. A MongoDB that cannot be used does not stop
    /// the service: it is logged at start, and every request is answered ServiceUnavailable or StoreMisconfigured.
    /// </summary>
    public static IHostApplicationBuilder AddLumeResults(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddLumeResultType(ResultType.Generic);
        services.AddLumeResultType(ResultType.Impact);
        services.AddSingleton<ResultTypeRegistry>();
        var mongo = builder.Configuration.GetSection("RESULTS_DB").Get<MongoSettings>() ?? new MongoSettings();
        services.AddSingleton<IResultStore>(sp => mongo.IsConfigured
            ? OpenMongo(mongo)
            : new SqliteResultStore(Path.Combine(sp.GetRequiredService<IOptions<LumeOptions>>().Value.DataPath, "results.db"), sp.GetRequiredService<LumeFatal>().Stop));
        services.AddSingleton<ResultService>();
        services.AddHostedService<ResultStoreInitializer>();
        services.AddLumeConsumers(bus =>
        {
            bus.AddConsumer<StoreResultConsumer, ResultConsumerDefinition<StoreResultConsumer>>();
            bus.AddConsumer<LoadResultConsumer, ResultConsumerDefinition<LoadResultConsumer>>();
            bus.AddConsumer<QueryResultsConsumer, ResultConsumerDefinition<QueryResultsConsumer>>();
        });
        return builder;
    }

    /// <summary>Adds a result type (its type string and fields) to those the Results service accepts.</summary>
    public static IServiceCollection AddLumeResultType(this IServiceCollection services, ResultType type) => services.AddSingleton(type);

    static IResultStore OpenMongo(MongoSettings mongo)
    {
        try
        {
            return new MongoResultStore(mongo.Open("LUME_RESULTS_DB__"));
        }
        catch (StoreUnavailableException e)
        {
            return new UnusableResultStore(e);
        }
    }

    // The service keeps running so that every request is told what is wrong, by the bus, instead of waiting for a service that stopped.
    sealed class ResultStoreInitializer(IResultStore store, ILogger<ResultStoreInitializer> log) : IHostedService
    {
        public async Task StartAsync(CancellationToken cancellationToken)
        {
            try
            {
                await store.InitializeAsync(cancellationToken);
            }
            catch (StoreUnavailableException e)
            {
                log.LogError("{Problem}; the service answers every results request {ErrorType} until the store can be used", e.Message, ResultAnswers.ErrorTypeOf(e));
            }
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    // Settings that can never work: each request gets the same explanation.
    sealed class UnusableResultStore(StoreUnavailableException problem) : IResultStore
    {
        public Task InitializeAsync(CancellationToken cancellationToken) => throw problem;

        public Task<(JsonObject Stored, bool Created)> InsertAsync(JsonObject dbDict, CancellationToken cancellationToken) => throw problem;

        public Task<bool> CollectionExistsAsync(string collection, CancellationToken cancellationToken) => throw problem;

        public Task<IReadOnlyList<JsonObject>> FindAsync(
            string collection, IReadOnlyDictionary<string, JsonElement> fields, int limit, CancellationToken cancellationToken) => throw problem;
    }
}

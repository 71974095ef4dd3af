using Lume.Hosting;
using Lume.Results.Model;
using Lume.Results.Stores;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Lume.Results;

/// <summary>Adds the Results service to a host.</summary>
public static class ResultsExtensions
{
    /// <summary>
    /// The Results service: consumes StoreResult, LoadResult and QueryResults, answers ResultStored, ResultLoaded,
    /// ResultsFound or ResultRequestFailed. Results are kept in MongoDB when <c>LUME_RESULTS_DB__HOST</c> or
    /// <c>__CONNECTION_STRING</c> is set, else in SQLite under the data folder.
    /// </summary>
    public static IHostApplicationBuilder AddLumeResults(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddLumeResultType(ResultType.Generic);
        services.AddLumeResultType(ResultType.Impact);
        services.AddSingleton<ResultTypeRegistry>();
        var mongo = builder.Configuration.GetSection("RESULTS_DB").Get<MongoSettings>() ?? new MongoSettings();
        services.AddSingleton<IResultStore>(sp => mongo.IsConfigured
            ? new MongoResultStore(mongo.Open("LUME_RESULTS_DB__"))
            : new SqliteResultStore(Path.Combine(sp.GetRequiredService<IOptions<LumeOptions>>().Value.DataPath, "results.db")));
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

    sealed class ResultStoreInitializer(IResultStore store) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => store.InitializeAsync(cancellationToken);

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}

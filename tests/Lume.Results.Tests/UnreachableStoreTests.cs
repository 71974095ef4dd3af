using System.Diagnostics;
using System.Text.Json;
using Lume.Contracts;
using Lume.Results.Tests.Stores;
using Lume.Testing;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace Lume.Results.Tests;

/// <summary>The Results service on a MongoDB that cannot be used still starts, and answers every request with a named error.</summary>
public sealed class UnreachableStoreTests
{
    const string Password = "s3cr3t-pw";

    static Task<LumeTestHost> StartAsync(Dictionary<string, string?> settings) =>
        LumeTestHost.StartAsync(builder => builder.AddLumeResults(), settings);

    static Dictionary<string, string?> Nowhere(int port) => new()
    {
        ["RESULTS_DB:HOST"] = "127.0.0.1",
        ["RESULTS_DB:PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["RESULTS_DB:USERNAME"] = "lume",
        ["RESULTS_DB:PASSWORD"] = Password,
        ["RESULTS_DB:TIMEOUT_SECONDS"] = "0.5",
    };

    [Fact]
    public async Task EveryRequest_IsAnsweredServiceUnavailable_WithinTheTimeout_NamingTheVariables_NeverThePassword()
    {
        var port = UnreachableMongoTests.FreePort();
        await using var host = await StartAsync(Nowhere(port));
        var clock = Stopwatch.StartNew();

        var answers = new[]
        {
            await AskAsync<StoreResult, ResultStored>(host, new StoreResult(JsonSerializer.SerializeToElement(new { flow_id = "f", inputs = new { a = 1 }, outputs = new { b = 2 } }))),
            await AskAsync<LoadResult, ResultLoaded>(host, new LoadResult(JsonSerializer.SerializeToElement(
                new { project_name = "local", result_type_string = "Result", query = new { unique_hash = "0000" } }), null)),
            await AskAsync<QueryResults, ResultsFound>(host, new QueryResults("local", new Dictionary<string, JsonElement>(), 10)),
        };

        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(10));
        foreach (var answer in answers)
        {
            var failed = Assert.IsType<ResultRequestFailed>(answer);
            Assert.Equal("ServiceUnavailable", failed.ErrorType);
            Assert.Equal(
                $"the Results store's MongoDB at 127.0.0.1:{port} did not answer within 0.5 s (Connection refused): check LUME_RESULTS_DB__HOST and LUME_RESULTS_DB__PORT",
                failed.Message);
            Assert.DoesNotContain(Password, failed.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task SettingsThatCannotWork_AreAnsweredStoreMisconfigured_NamingTheVariable()
    {
        var settings = Nowhere(27017);
        settings["RESULTS_DB:PORT"] = "27O17";
        await using var host = await StartAsync(settings);

        var answer = await AskAsync<QueryResults, ResultsFound>(host, new QueryResults("local", new Dictionary<string, JsonElement>(), 10));

        var failed = Assert.IsType<ResultRequestFailed>(answer);
        Assert.Equal("StoreMisconfigured", failed.ErrorType);
        Assert.Equal("LUME_RESULTS_DB__PORT is '27O17', which is no port number (1 to 65535)", failed.Message);
    }

    [Fact]
    public async Task AnInvalidResult_IsRefusedAsSuch_EvenWhileTheStoreIsAway()
    {
        await using var host = await StartAsync(Nowhere(UnreachableMongoTests.FreePort()));

        var answer = await AskAsync<StoreResult, ResultStored>(host, new StoreResult(JsonDocument.Parse("""{"flow_id": "f", "inputs": {"a": 1e400}, "outputs": {"b": 2}}""").RootElement));

        Assert.Equal("InvalidResult", Assert.IsType<ResultRequestFailed>(answer).ErrorType);
    }

    static async Task<object> AskAsync<TRequest, TAnswer>(LumeTestHost host, TRequest request)
        where TRequest : class
        where TAnswer : class =>
        (await host.Services.GetRequiredService<IClientFactory>().CreateRequestClient<TRequest>()
            .GetResponse<TAnswer, ResultRequestFailed>(request)).Message;
}

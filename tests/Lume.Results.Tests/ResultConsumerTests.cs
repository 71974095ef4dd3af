using System.Text.Json;
using Lume.Contracts;
using Lume.Results.Model;
using Lume.Testing;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace Lume.Results.Tests;

public sealed class ResultConsumerTests : IAsyncLifetime
{
    LumeTestHost _host = null!;

    public async Task InitializeAsync() => _host = await LumeTestHost.StartAsync(builder =>
    {
        builder.AddLumeResults();
        builder.Services.AddLumeResultType(new ResultType("my_lab.results.ScanResult", ["ScanResult"], [new ResultField("scan_id", ResultFieldKind.Json, Required: true)]));
    });

    [Fact]
    public async Task AUsersOwnResultType_IsAcceptedWithItsFields_AndChecked()
    {
        var missing = await AskAsync(new StoreResult(Json(new { result_type_string = "ScanResult", flow_id = "scan", inputs = new { a = 1 }, outputs = new { b = 2 } })));
        var rep = await StoreAsync(Json(new { result_type_string = "ScanResult", flow_id = "scan", inputs = new { a = 1 }, outputs = new { b = 2 }, scan_id = 42 }));

        Failed(missing, "InvalidResult", "field 'scan_id' is required by my_lab.results.ScanResult");
        Assert.Equal("my_lab.results.ScanResult", rep.ResultTypeString);
        Assert.Equal(42, Assert.IsType<ResultLoaded>(await AskAsync(new LoadResult(Json(rep), [Json("scan_id")]))).Value.GetInt32());
    }

    public async Task DisposeAsync() => await _host.DisposeAsync();

    async Task<object> AskAsync<TRequest>(TRequest request)
        where TRequest : class
    {
        var client = _host.Services.GetRequiredService<IClientFactory>().CreateRequestClient<TRequest>();
        return request switch
        {
            StoreResult => (await client.GetResponse<ResultStored, ResultRequestFailed>(request)).Message,
            LoadResult => (await client.GetResponse<ResultLoaded, ResultRequestFailed>(request)).Message,
            _ => (await client.GetResponse<ResultsFound, ResultRequestFailed>(request)).Message,
        };
    }

    static JsonElement Json(object value) => JsonSerializer.SerializeToElement(value);

    static readonly JsonElement Flow2Result = Json(new { flow_id = "flow2", inputs = new { input1 = "HelloWorld" }, outputs = new { output1 = "HelloWorld" } });

    async Task<ResultRep> StoreAsync(JsonElement result) => Assert.IsType<ResultStored>(await AskAsync(new StoreResult(result))).Rep;

    static void Failed(object answer, string errorType, string mentioned)
    {
        var failed = Assert.IsType<ResultRequestFailed>(answer);
        Assert.Equal(errorType, failed.ErrorType);
        Assert.Contains(mentioned, failed.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Store_ReturnsTheUpstreamRep_AndStoringAgainReturnsTheSameRepWithoutACopy()
    {
        var first = Assert.IsType<ResultStored>(await AskAsync(new StoreResult(Flow2Result)));
        var again = Assert.IsType<ResultStored>(await AskAsync(new StoreResult(Flow2Result)));

        Assert.True(first.Created);
        Assert.False(again.Created);
        Assert.Equal(JsonSerializer.Serialize(first.Rep), JsonSerializer.Serialize(again.Rep));
        // The digest Python computes for this result (Fixtures/hash_fixtures.json, "upstream flow2").
        var python = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "hash_fixtures.json"))).RootElement
            .EnumerateArray().Single(f => f.GetProperty("name").GetString() == "upstream flow2").GetProperty("unique_hash").GetString();
        Assert.Equal(
            $$$"""{"project_name":"local","result_type_string":"lume_services.results.generic.Result","query":{"unique_hash":"{{{python}}}"}}""",
            JsonSerializer.Serialize(first.Rep));
        var found = Assert.IsType<ResultsFound>(await AskAsync(new QueryResults("local", new Dictionary<string, JsonElement> { ["flow_id"] = Json("flow2") }, 10)));
        Assert.Single(found.Results);
    }

    [Fact]
    public async Task Load_ReturnsTheDbDict_OrTheValueAtAnAttributeIndex()
    {
        var rep = await StoreAsync(Flow2Result);

        var whole = Assert.IsType<ResultLoaded>(await AskAsync(new LoadResult(Json(rep), null))).Value;
        var output = Assert.IsType<ResultLoaded>(await AskAsync(new LoadResult(Json(rep), [Json("outputs"), Json("output1")]))).Value;

        Assert.Equal(["collection", "flow_id", "inputs", "outputs", "date_modified", "unique_hash", "result_type_string"],
            whole.EnumerateObject().Select(p => p.Name).ToArray());
        Assert.Equal("HelloWorld", output.GetString());
    }

    [Fact]
    public async Task ImpactResult_NeedsItsFields_AndKeepsThem()
    {
        var archive = new { filename = "a.h5", file_type_string = "lume_services.files.file:File[HDF5Serializer]", filesystem_identifier = "local" };
        var missing = await AskAsync(new StoreResult(Json(new { result_type_string = "ImpactResult", flow_id = "impact", inputs = new { a = 1 }, outputs = new { b = 2 } })));
        var rep = await StoreAsync(Json(new
        {
            result_type_string = "lume_services.results.impact.ImpactResult",
            flow_id = "impact", inputs = new { a = 1 }, outputs = new { b = 2 },
            archive, pv_collection_isotime = "2026-11-26T12:00:00Z", config = new { lattice = "x" },
        }));

        Failed(missing, "InvalidResult", "field 'archive' is required");
        Assert.Equal("lume_services.results.impact.ImpactResult", rep.ResultTypeString);
        var stored = Assert.IsType<ResultLoaded>(await AskAsync(new LoadResult(Json(rep), [Json("archive"), Json("filename")]))).Value;
        Assert.Equal("a.h5", stored.GetString());
    }

    [Fact]
    public async Task EveryBadRequest_GetsItsNamedError()
    {
        var rep = await StoreAsync(Flow2Result);
        await StoreAsync(Json(new { flow_id = "flow2", inputs = new { input1 = "other" }, outputs = new { output1 = "other" } }));
        var hash = rep.Query["unique_hash"].GetString();

        Failed(await AskAsync(new StoreResult(Json(new { result_type_string = "no.such.Type", flow_id = "f", inputs = new { a = 1 }, outputs = new { b = 1 } }))),
            "UnknownResultType", "'no.such.Type'");
        Failed(await AskAsync(new StoreResult(Json(new { flow_id = "f", inputs = new { }, outputs = new { b = 1 } }))), "InvalidResult", "inputs is empty");
        Failed(await AskAsync(new LoadResult(Json(new { project_name = "nowhere", result_type_string = "Result", query = new { unique_hash = hash } }), null)),
            "UnknownCollection", "'nowhere'");
        Failed(await AskAsync(new LoadResult(Json(new { project_name = "local", result_type_string = "Result", query = new { unique_hash = "0000" } }), null)),
            "NoResultFound", "unique_hash=\"0000\"");
        Failed(await AskAsync(new LoadResult(Json(new { project_name = "local", result_type_string = "Result", query = new { flow_id = "flow2" } }), null)),
            "MultipleResultsFound", "flow_id=\"flow2\"");
        Failed(await AskAsync(new LoadResult(Json(new { project_name = "local", query = new { unique_hash = hash } }), null)),
            "MalformedResultRep", "result_type_string");
        Failed(await AskAsync(new LoadResult(Json(rep), [Json("outputs"), Json("nope")])), "BadAttributeIndex", "\"nope\"");
        Failed(await AskAsync(new QueryResults("nowhere", new Dictionary<string, JsonElement>(), 10)), "UnknownCollection", "'nowhere'");
    }
}

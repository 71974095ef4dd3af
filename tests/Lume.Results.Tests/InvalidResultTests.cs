using System.Text.Json;
using Lume.Contracts;
using Lume.Results.Model;
using Lume.Testing;
using MassTransit;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace Lume.Results.Tests;

/// <summary>Valid JSON that the stores cannot keep unchanged is refused by name, with the path of the value at fault.</summary>
public sealed class InvalidResultTests : IAsyncLifetime
{
    LumeTestHost _host = null!;

    public async Task InitializeAsync() => _host = await LumeTestHost.StartAsync(builder => builder.AddLumeResults());

    public async Task DisposeAsync() => await _host.DisposeAsync();

    const string Good = """{"project_name": "p", "flow_id": "good", "inputs": {"a": 1}, "outputs": {"b": 2}}""";

    static string Outputs(string outputs) => $$"""{"project_name": "p", "flow_id": "f", "inputs": {"a": 1}, "outputs": {{outputs}}}""";

    static string Nested(int levels) => new string('[', levels) + "1" + new string(']', levels);

    public static TheoryData<string, string> Unstorable => new()
    {
        { Outputs("""{"x": 1e400}"""), "outputs.x: the number 1e400 is beyond the range of a double" },
        { """{"project_name": "p", "flow_id": "f", "inputs": {"list": [1, -1e400]}, "outputs": {"b": 2}}""", "inputs.list[1]: the number -1e400" },
        { Outputs("""{"n": 123456789012345678901234567890}"""), "outputs.n: the integer 123456789012345678901234567890 does not fit in 64 bits" },
        { Outputs("""{"n": -9223372036854775809}"""), "outputs.n: the integer -9223372036854775809 does not fit in 64 bits" },
        { Outputs("""{"when": {"$date": "2026-01-01T00:00:00Z"}}"""), "outputs.when.$date: a key may not start with '$'" },
        { """{"project_name": "p", "flow_id": "f", "inputs": {"file.h5": 1}, "outputs": {"b": 2}}""", "inputs.file.h5: a key may not hold '.'" },
        { Outputs("""{"a\u0000b": 1}"""), "the key holds a NUL character" },
        { Outputs("""{"x": 1, "x": 2}"""), "outputs.x: the key appears more than once" },
        { Outputs($$"""{"deep": {{Nested(31)}}}"""), "outputs.deep" + string.Concat(Enumerable.Repeat("[0]", 30)) + ": nested more than 32 levels deep" },
        { "[1, 2]", "a result must be a JSON object, not an array" },
        { "\"text\"", "a result must be a JSON object, not a string" },
        { "null", "a result must be a JSON object, not null" },
        { """{"project_name": 5, "flow_id": "f", "inputs": {"a": 1}, "outputs": {"b": 2}}""", "project_name must be a string, not a number" },
        { """{"project_name": "p", "flow_id": ["f"], "inputs": {"a": 1}, "outputs": {"b": 2}}""", "flow_id must be a string, not an array" },
        { """{"project_name": "p", "inputs": {"a": 1}, "outputs": {"b": 2}}""", "flow_id is missing" },
        { """{"project_name": "p", "flow_id": "f", "inputs": "a=1", "outputs": {"b": 2}}""", "inputs must be a JSON object, not a string" },
        { """{"project_name": "p", "flow_id": "f", "inputs": {"a": 1}}""", "outputs is missing" },
        { """{"project_name": "p", "flow_id": "f", "inputs": {"a": 1}, "outputs": {"b": 2}, "result_type_string": true}""", "result_type_string must be a string, not a boolean" },
        { """{"project_name": "", "flow_id": "f", "inputs": {"a": 1}, "outputs": {"b": 2}}""", "project_name '' cannot name a collection: it is empty" },
        { """{"project_name": "a$b", "flow_id": "f", "inputs": {"a": 1}, "outputs": {"b": 2}}""", "project_name 'a$b' cannot name a collection: it may not hold '$'" },
        { """{"project_name": "system.x", "flow_id": "f", "inputs": {"a": 1}, "outputs": {"b": 2}}""", "project_name 'system.x' cannot name a collection" },
    };

    [Theory]
    [MemberData(nameof(Unstorable))]
    public async Task AnUnstorableResult_IsRefusedAsInvalidResult_NamingThePath_AndNothingIsStored(string document, string mentioned)
    {
        await StoreAsync(Good);

        var answer = await StoreAsync(document);

        Failed(answer, "InvalidResult", mentioned);
        await AssertOnlyTheGoodResultIsStoredAsync();
    }

    // System.Text.Json will not write these, so no .NET client can send them; a Python client over RabbitMQ can.
    // They go to the service directly, as the consumer passes them on.
    public static TheoryData<string, string> Unsendable => new()
    {
        { Outputs("""{"s": "a\ud800b"}"""), "outputs.s: the string holds an unpaired UTF-16 surrogate" },
        { Outputs("""{"t": "\udc00"}"""), "outputs.t: the string holds an unpaired UTF-16 surrogate" },
        { Outputs("""{"\udc00": 1}"""), @"outputs.\udc00: the key holds an unpaired UTF-16 surrogate" },
    };

    [Theory]
    [MemberData(nameof(Unsendable))]
    public async Task TextThatIsNoValidUtf16_IsRefusedAsInvalidResult_NamingThePath_AndNothingIsStored(string document, string mentioned)
    {
        await StoreAsync(Good);

        var error = await Assert.ThrowsAsync<ResultException>(() => Service.StoreAsync(Json(document), CancellationToken.None));

        Assert.Equal("InvalidResult", error.ErrorType);
        Assert.Contains(mentioned, error.Message, StringComparison.Ordinal);
        await AssertOnlyTheGoodResultIsStoredAsync();
    }

    [Fact]
    public async Task AResultNestedToTheLimit_IsStored_AndLoadedUnchanged()
    {
        var document = Outputs($$"""{"deep": {{Nested(30)}}}""");

        var rep = Assert.IsType<ResultStored>(await StoreAsync(document)).Rep;
        var loaded = Assert.IsType<ResultLoaded>(await AskAsync(new LoadResult(JsonSerializer.SerializeToElement(rep), [Json("\"outputs\"")])));

        Assert.Equal($$"""{"deep":{{Nested(30)}}}""", JsonSerializer.Serialize(loaded.Value));
    }

    [Fact]
    public async Task ManyProblems_AreReportedTogether_UpToFive()
    {
        var answer = await StoreAsync(Outputs("""{"a": 1e400, "b": 1e400, "c": 1e400, "d": 1e400, "e": 1e400, "f": 1e400, "g": 1e400}"""));

        var failed = Assert.IsType<ResultRequestFailed>(answer);
        Assert.Contains("outputs.e:", failed.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("outputs.f:", failed.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string, string> MalformedReps => new()
    {
        { "5", "a result rep is" },
        { "null", "a result rep is" },
        { """{"project_name": "p", "result_type_string": "Result", "query": {}}""", "a result rep is" },
        { """{"project_name": "p", "result_type_string": "Result", "query": {"$where": "true"}}""", "query.$where: a field may not start with '$'" },
        { """{"project_name": "p", "result_type_string": "Result", "query": {"inputs.$x": 1}}""", "query.inputs.$x: a field may not start with '$'" },
        { """{"project_name": "p", "result_type_string": "Result", "query": {"unique_hash": {"$ne": null}}}""", "query.unique_hash.$ne: a key may not start with '$'" },
        { """{"project_name": "p", "result_type_string": "Result", "query": {"unique_hash": 1e400}}""", "query.unique_hash: the number 1e400" },
        { """{"project_name": "p", "result_type_string": "Result", "query": {"unique_hash": 99999999999999999999}}""", "query.unique_hash: the integer 99999999999999999999" },
        { """{"project_name": "p", "result_type_string": "Result", "query": {"a..b": "x"}}""", "query.a..b: every step of a field path needs a name" },
        { """{"project_name": "", "result_type_string": "Result", "query": {"unique_hash": "x"}}""", "project_name cannot name a collection: it is empty" },
    };

    [Theory]
    [MemberData(nameof(MalformedReps))]
    public async Task AMalformedRep_IsRefusedAsMalformedResultRep_NamingWhatIsWrong(string rep, string mentioned)
    {
        await StoreAsync(Good);

        Failed(await AskAsync(new LoadResult(Json(rep), null)), "MalformedResultRep", mentioned);
    }

    public static TheoryData<string, string> UnsendableReps => new()
    {
        { """{"project_name": "p", "result_type_string": "Result", "query": {"unique_hash": "\ud800"}}""", "query.unique_hash: the string holds an unpaired UTF-16 surrogate" },
        { """{"project_name": "p", "result_type_string": "Result", "query": {"\ud800": "x"}}""", @"query.\ud800: the field name holds an unpaired UTF-16 surrogate" },
        { """{"project_name": "\ud800", "result_type_string": "Result", "query": {"unique_hash": "x"}}""", "project_name: the string holds an unpaired UTF-16 surrogate" },
        { """{"project_name": "p", "result_type_string": "\udfff", "query": {"unique_hash": "x"}}""", "result_type_string: the string holds an unpaired UTF-16 surrogate" },
    };

    [Theory]
    [MemberData(nameof(UnsendableReps))]
    public async Task ARepWithTextThatIsNoValidUtf16_IsRefusedAsMalformedResultRep(string rep, string mentioned)
    {
        await StoreAsync(Good);

        var error = await Assert.ThrowsAsync<ResultException>(() => Service.LoadAsync(Json(rep), null, CancellationToken.None));

        Assert.Equal("MalformedResultRep", error.ErrorType);
        Assert.Contains(mentioned, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnAttributeIndexStepThatIsNoValidUtf16_IsABadAttributeIndex()
    {
        var rep = Assert.IsType<ResultStored>(await StoreAsync(Good)).Rep;

        var error = await Assert.ThrowsAsync<ResultException>(() =>
            Service.LoadAsync(JsonSerializer.SerializeToElement(rep), [Json("\"outputs\""), Json("\"\\ud800\"")], CancellationToken.None));

        Assert.Equal("BadAttributeIndex", error.ErrorType);
        Assert.Contains(@"""\ud800""", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("p", """{"$where": "true"}""", "fields.$where: a field may not start with '$'")]
    [InlineData("p", """{"flow_id": {"$ne": "x"}}""", "fields.flow_id.$ne: a key may not start with '$'")]
    [InlineData("", "{}", "the project name cannot name a collection: it is empty")]
    [InlineData("system.users", "{}", "the project name cannot name a collection")]
    public async Task AMalformedQuery_IsRefusedAsMalformedQuery(string project, string fields, string mentioned)
    {
        await StoreAsync(Good);

        var query = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(fields)!;
        Failed(await AskAsync(new QueryResults(project, query, 10)), "MalformedQuery", mentioned);
    }

    static JsonElement Json(string text) => JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 256 }).RootElement.Clone();

    Task<object> StoreAsync(string document) => AskAsync(new StoreResult(Json(document)));

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

    ResultService Service => _host.Services.GetRequiredService<ResultService>();

    async Task AssertOnlyTheGoodResultIsStoredAsync()
    {
        Assert.Equal(1, CountStored());
        var found = Assert.IsType<ResultsFound>(await AskAsync(new QueryResults("p", new Dictionary<string, JsonElement>(), 10)));
        Assert.Equal("good", Assert.Single(found.Results).GetProperty("flow_id").GetString());
    }

    long CountStored()
    {
        using var connection = new SqliteConnection($"Data Source={Path.Combine(_host.DataDir, "results.db")}");
        connection.Open();
        using var count = connection.CreateCommand();
        count.CommandText = "SELECT COUNT(*) FROM results";
        return (long)count.ExecuteScalar()!;
    }

    static void Failed(object answer, string errorType, string mentioned)
    {
        var failed = Assert.IsType<ResultRequestFailed>(answer);
        Assert.Equal(errorType, failed.ErrorType);
        Assert.Contains(mentioned, failed.Message, StringComparison.Ordinal);
    }
}

using System.Net;

namespace Lume.Web.Tests;

/// <summary>The API with no services behind it: each request says which service did not answer.</summary>
public sealed class UnansweredTests : IAsyncLifetime
{
    ApiHost _host = null!;

    public async Task InitializeAsync() => _host = await ApiHost.StartAsync(withServices: false, requestTimeoutSeconds: 1);

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Theory]
    [InlineData("/api/flows", "Scheduler")]
    [InlineData("/api/runs", "Scheduler")]
    [InlineData("/api/runs/0d6f6c0e-4bd4-4a4a-9d36-0a3c2f1f2b11", "Scheduler")]
    [InlineData("/api/results?flow_id=flow2", "Results service")]
    public async Task ARequestNoServiceAnswers_Is503_NamingTheService(string path, string service)
    {
        var problem = await (await _host.Client.GetAsync(path)).ProblemAsync(HttpStatusCode.ServiceUnavailable);

        Assert.Equal(service, problem.GetProperty("service").GetString());
    }
}

/// <summary>The API on a broker that is not there: the send itself waits, and the answer is still a prompt 503.</summary>
public sealed class BrokerAwayTests : IAsyncLifetime
{
    ApiHost _host = null!;

    // Port 1 on the loopback: nothing listens there, so every connection is refused at once.
    public async Task InitializeAsync() => _host = await ApiHost.StartAsync(withServices: false, requestTimeoutSeconds: 1, broker: "amqp://guest:guest@127.0.0.1:1/");

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task ARequestWhileTheBrokerIsAway_Is503_WithinTheRequestTimeoutAndItsMargin()
    {
        _host.Client.Timeout = TimeSpan.FromSeconds(30);

        var problem = await (await _host.Client.GetAsync("/api/flows")).ProblemAsync(HttpStatusCode.ServiceUnavailable);

        Assert.Equal("Scheduler", problem.GetProperty("service").GetString());
    }
}

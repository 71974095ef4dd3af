using System.Net;
using System.Net.Http.Headers;

namespace Lume.Web.Tests;

/// <summary>With LUME_GATEWAY__TOKEN set, every API request needs it.</summary>
public sealed class BearerTokenTests : IAsyncLifetime
{
    const string Token = "s3cret-token-for-tests";
    ApiHost _host = null!;

    public async Task InitializeAsync() => _host = await ApiHost.StartAsync(Token);

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Theory]
    [InlineData(null)]
    [InlineData("Bearer wrong-token")]
    [InlineData("Bearer s3cret-token-for-test")]
    [InlineData("Basic s3cret-token-for-tests")]
    public async Task ARequestWithoutTheToken_Is401(string? authorization)
    {
        foreach (var request in new[]
                 {
                     new HttpRequestMessage(HttpMethod.Get, "/api/flows"), new HttpRequestMessage(HttpMethod.Post, $"/api/runs/{Guid.NewGuid()}/cancel"),
                     new HttpRequestMessage(HttpMethod.Get, "/api/events"), new HttpRequestMessage(HttpMethod.Get, $"/api/runs/{Guid.NewGuid()}/events"),
                 })
        {
            if (authorization is not null)
                request.Headers.TryAddWithoutValidation("Authorization", authorization);

            var problem = await (await _host.Client.SendAsync(request)).ProblemAsync(HttpStatusCode.Unauthorized);

            Assert.DoesNotContain(Token, problem.GetRawText(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task ARequestWithTheToken_IsAnswered()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/flows");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);

        var flows = await (await _host.Client.SendAsync(request)).JsonAsync(HttpStatusCode.OK);

        Assert.Contains(flows.EnumerateArray(), f => f.GetProperty("name").GetString() == "flow1");
    }

    [Fact]
    public async Task TheEventStream_WithTheToken_IsOpen()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/events");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);

        using var response = await _host.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task ThePages_NeedNoToken()
    {
        Assert.Equal(HttpStatusCode.OK, (await _host.Client.GetAsync("/")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _host.Client.GetAsync("/assets/app.js")).StatusCode);
    }
}

using System.Net;

namespace Lume.Web.Tests;

/// <summary>The web view's page and files, served beside the API.</summary>
[Collection(ApiCollection.Name)]
public sealed class UiTests(ApiHostFixture fixture)
{
    readonly HttpClient _client = fixture.Host.Client;

    [Theory]
    [InlineData("/")]
    [InlineData("/runs/0b9b7c4e-5a34-4a4e-9d7e-3f0e6b1d2c11")]
    [InlineData("/flows")]
    [InlineData("/results")]
    public async Task EachView_IsThePage_UnderAContentSecurityPolicy(string path)
    {
        var response = await _client.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("<html", await response.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
        Assert.Contains("script-src 'self'", string.Join(";", response.Headers.GetValues("Content-Security-Policy")));
    }

    [Fact]
    public async Task TheScript_IsServed()
    {
        var response = await _client.GetAsync("/assets/app.js");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("javascript", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task AnUnknownAsset_Is404()
    {
        Assert.Equal(HttpStatusCode.NotFound, (await _client.GetAsync("/assets/no-such-file.js")).StatusCode);
    }
}

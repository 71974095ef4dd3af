namespace Lume.Ui.Tests;

/// <summary>A host that requires a bearer token: the page asks for it, then shows the runs.</summary>
public sealed class TokenTests(TokenUiFixture fixture) : IClassFixture<TokenUiFixture>
{
    [Fact]
    public async Task ThePageAsksForTheToken_AndWithItShowsTheRuns()
    {
        var runId = await fixture.Host.StartRunAsync("failing_flow", new { message = "behind a token" });
        await fixture.Host.WaitForRunAsync(runId);
        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/");

        var form = page.Locator("form#token-form");
        await form.WaitForAsync();
        Assert.Equal(0, await page.Locator($"table#runs tbody tr[data-run-id=\"{runId}\"]").CountAsync());
        await form.Locator("input#token").FillAsync(TokenUiFixture.SecretToken);
        await form.Locator("[type=submit]").ClickAsync();

        await page.Locator($"table#runs tbody tr[data-run-id=\"{runId}\"]").WaitForAsync();
        Assert.Equal(TokenUiFixture.SecretToken, await page.EvaluateAsync<string>("() => sessionStorage.getItem('lume.token')"));
        Ui.AssertNoPageErrors(page);
    }
}

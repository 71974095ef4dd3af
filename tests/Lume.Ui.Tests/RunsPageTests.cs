using Microsoft.Playwright;

namespace Lume.Ui.Tests;

/// <summary>The runs list: its filters, and runs appearing and ending without a reload.</summary>
public sealed class RunsPageTests(UiFixture fixture) : IClassFixture<UiFixture>
{
    UiHost Host => fixture.Host;

    static ILocator Row(IPage page, string runId) => page.Locator($"table#runs tbody tr[data-run-id=\"{runId}\"]");

    [Fact]
    public async Task TheStateFilter_ShowsAFailedRunUnderFailed_AndNotUnderCompleted()
    {
        var failed = await Host.StartRunAsync("failing_flow", new { message = "filtered" });
        var completed = await Host.StartRunAsync("flow1", Ui.Flow1Parameters("Hello", $"ui-{Guid.NewGuid():N}.txt"));
        await Host.WaitForRunAsync(failed);
        await Host.WaitForRunAsync(completed);
        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/");
        await Row(page, failed).WaitForAsync();
        await Row(page, completed).WaitForAsync();
        Assert.Equal("failed", (await Row(page, failed).Locator("td.state").TextContentAsync())?.Trim());
        Assert.True(await Row(page, failed).Locator($"a[href=\"/runs/{failed}\"]").CountAsync() >= 1, "the row has no link to its run page");

        await page.Locator("select#filter-state").SelectOptionAsync("failed");

        await Row(page, completed).WaitForAsync(new() { State = WaitForSelectorState.Detached });
        await Row(page, failed).WaitForAsync();

        await page.Locator("select#filter-state").SelectOptionAsync("completed");

        await Row(page, failed).WaitForAsync(new() { State = WaitForSelectorState.Detached });
        await Row(page, completed).WaitForAsync();
        Assert.Equal("completed", (await Row(page, completed).Locator("td.state").TextContentAsync())?.Trim());
        Assert.Contains("completed 3", await Row(page, completed).Locator("td.counts").TextContentAsync());
        Ui.AssertNoPageErrors(page);
    }

    [Fact]
    public async Task ARunStartedElsewhere_AppearsAndEnds_WithoutAReload()
    {
        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/");
        await page.Locator("table#runs").WaitForAsync();
        // A marker that a reload would lose.
        await page.EvaluateAsync("() => { window.__sameDocument = true; }");

        var runId = await Host.StartRunAsync("flow1", Ui.Flow1Parameters("Live", $"ui-{Guid.NewGuid():N}.txt"));

        await Row(page, runId).WaitForAsync(new() { Timeout = 20_000 });
        await page.WaitForFunctionAsync(
            "id => { const td = document.querySelector(`table#runs tbody tr[data-run-id=\"${id}\"] td.state`); return !!td && td.textContent.trim() === 'completed'; }",
            runId, new() { Timeout = 30_000 });
        Assert.True(await page.EvaluateAsync<bool>("() => window.__sameDocument === true"), "the page was reloaded");
        Ui.AssertNoPageErrors(page);
    }
}

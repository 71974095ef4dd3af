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
        // A marker that a reload would lose; and time for the page's first list and its event stream to settle, so
        // that what follows reaches it only through the stream.
        await page.EvaluateAsync("() => { window.__sameDocument = true; }");
        await page.WaitForTimeoutAsync(2000);

        // approval waits (running) until its task is approved, through the API, like another client would.
        var runId = await Host.StartRunAsync("approval", new { });

        await Row(page, runId).WaitForAsync(new() { Timeout = 20_000 });
        await WaitForRowStateAsync(page, runId, "running");
        await page.WaitForTimeoutAsync(1500);
        using (var approved = await Host.Api.PostAsync($"/api/runs/{runId}/tasks/publish/approve", null))
            Assert.True(approved.IsSuccessStatusCode, $"approve: {(int)approved.StatusCode}");
        await WaitForRowStateAsync(page, runId, "completed");
        Assert.True(await page.EvaluateAsync<bool>("() => window.__sameDocument === true"), "the page was reloaded");
        Ui.AssertNoPageErrors(page);
    }

    static async Task WaitForRowStateAsync(IPage page, string runId, string state)
    {
        try
        {
            await page.WaitForFunctionAsync(
                "([id, s]) => { const td = document.querySelector(`table#runs tbody tr[data-run-id=\"${id}\"] td.state`); return !!td && td.textContent.trim() === s; }",
                new[] { runId, state }, new() { Timeout = 20_000, PollingInterval = 100 });
        }
        catch (TimeoutException)
        {
            var now = await Row(page, runId).Locator("td.state").TextContentAsync();
            throw new TimeoutException($"the row of run {runId} never said {state}; it says {now}");
        }
    }
}

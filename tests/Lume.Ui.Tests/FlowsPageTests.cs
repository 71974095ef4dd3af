using System.Text.Json;
using Microsoft.Playwright;

namespace Lume.Ui.Tests;

/// <summary>The flows page: starting a run from a flow's form, and what the form says about wrong parameters.</summary>
public sealed class FlowsPageTests(UiFixture fixture) : IClassFixture<UiFixture>
{
    static string Json(string text) => JsonSerializer.Serialize(text);

    static ILocator Flow1Form(IPage page) => page.Locator("section.flow[data-flow=\"flow1\"] form.start-run");

    [Fact]
    public async Task StartingFlow1FromItsForm_OpensTheRunPage_WhereEveryNodeCompletes_AndTheFileIsSaved()
    {
        var page = await fixture.NewPageAsync();
        var filename = $"ui-{Guid.NewGuid():N}.txt";
        await page.GotoAsync("/flows");
        var form = Flow1Form(page);
        await form.Locator("textarea[data-param=\"text1\"]").FillAsync(Json("Hello"));
        await form.Locator("textarea[data-param=\"text2\"]").FillAsync(Json(" from the browser"));
        await form.Locator("textarea[data-param=\"filename\"]").FillAsync(Json(filename));
        await form.Locator("textarea[data-param=\"filesystem_identifier\"]").FillAsync(Json("local"));

        await form.Locator("button[type=submit]").ClickAsync();

        // The page changes its address itself (history.pushState): no load event to wait for.
        try
        {
            await page.WaitForFunctionAsync("() => /^\\/runs\\/[0-9a-f-]{36}$/.test(location.pathname)", null, new() { PollingInterval = 100 });
        }
        catch (TimeoutException)
        {
            var shown = await page.Locator("ul.errors, .param-error, main").First.TextContentAsync();
            throw new TimeoutException($"the flows page never went to the run's page; it is at {page.Url} and shows: {shown}");
        }

        var runId = Ui.RunIdOf(page.Url);
        await page.WaitForSelectorAsync("#graph[data-ready=\"true\"]", new() { State = WaitForSelectorState.Attached });
        await Ui.WaitForGraphAsync(page, "cy.nodes().length === 3 && cy.nodes().every(n => n.data('state') === 'completed')");
        await Ui.WaitForRunStateAsync(page, "completed");
        Assert.Equal("flow1", (await page.Locator("#run-flow").TextContentAsync())?.Trim());
        Assert.Equal("3", await page.Locator("#graph").GetAttributeAsync("data-nodes"));
        // The run really happened: the API says so, and the file the flow saved is on disk.
        var run = await fixture.Host.GetRunAsync(runId);
        Assert.Equal("completed", run.GetProperty("state").GetString());
        var saved = Path.Combine(fixture.Host.FilesDir, filename);
        Assert.True(File.Exists(saved), $"flow1 saved no {saved}");
        Assert.Equal("Hello from the browser", await File.ReadAllTextAsync(saved));
        Ui.AssertNoPageErrors(page);
    }

    [Fact]
    public async Task AParameterThatIsNotJson_IsShownAsAParamError_AndNothingIsSent()
    {
        var page = await fixture.NewPageAsync();
        var posts = new List<string>();
        page.Request += (_, request) =>
        {
            if (request.Method == "POST")
                lock (posts) posts.Add(request.Url);
        };
        await page.GotoAsync("/flows");
        var form = Flow1Form(page);
        await form.Locator("textarea[data-param=\"text1\"]").FillAsync("Hello, not quoted");
        await form.Locator("textarea[data-param=\"text2\"]").FillAsync(Json("World"));
        await form.Locator("textarea[data-param=\"filename\"]").FillAsync(Json($"ui-{Guid.NewGuid():N}.txt"));
        await form.Locator("textarea[data-param=\"filesystem_identifier\"]").FillAsync(Json("local"));

        await form.Locator("button[type=submit]").ClickAsync();

        await page.Locator(".param-error[data-param=\"text1\"]").WaitForAsync();
        Assert.Equal(0, await page.Locator(".param-error[data-param=\"text2\"]").CountAsync());
        await page.WaitForTimeoutAsync(500);
        lock (posts)
            Assert.Empty(posts);
        Assert.EndsWith("/flows", page.Url, StringComparison.Ordinal);
        Ui.AssertNoPageErrors(page);
    }

    [Fact]
    public async Task AMissingRequiredParameter_ComesBackAsAnErrorNamingIt()
    {
        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/flows");
        var form = Flow1Form(page);
        // A required parameter's textarea starts empty; text2 is left so.
        Assert.Equal("", await form.Locator("textarea[data-param=\"text2\"]").InputValueAsync());
        await form.Locator("textarea[data-param=\"text1\"]").FillAsync(Json("Hello"));
        await form.Locator("textarea[data-param=\"filename\"]").FillAsync(Json($"ui-{Guid.NewGuid():N}.txt"));
        await form.Locator("textarea[data-param=\"filesystem_identifier\"]").FillAsync(Json("local"));

        await form.Locator("button[type=submit]").ClickAsync();

        var error = page.Locator("ul.errors li[data-field=\"parameters.text2\"]");
        await error.WaitForAsync();
        Assert.False(string.IsNullOrWhiteSpace(await error.TextContentAsync()));
        Assert.EndsWith("/flows", page.Url, StringComparison.Ordinal);
        Ui.AssertNoPageErrors(page);
    }
}

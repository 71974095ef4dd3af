using System.Text.Json;

namespace Lume.Ui.Tests;

/// <summary>What a run stored, from the browser: the file a task saved, the result a flow stored, and the results page.</summary>
public sealed class ResultsTests(UiFixture fixture) : IClassFixture<UiFixture>
{
    UiHost Host => fixture.Host;

    // flow1 saves "text1 World" as a file; flow2 loads that file and stores it as a result. Returns both run ids.
    async Task<(string Flow1, string Flow2)> StoreAsync(string text1)
    {
        var flow1 = await Host.StartRunAsync("flow1", Ui.Flow1Parameters(text1, $"ui-{Guid.NewGuid():N}.txt"));
        var run1 = await Host.WaitForRunAsync(flow1);
        Assert.Equal("completed", run1.GetProperty("state").GetString());
        var fileRep = run1.GetProperty("tasks").EnumerateArray().Single(t => t.GetProperty("slug").GetString() == "save_text_file").GetProperty("result");
        var flow2 = await Host.StartRunAsync("flow2", new { file_rep = fileRep });
        Assert.Equal("completed", (await Host.WaitForRunAsync(flow2)).GetProperty("state").GetString());
        return (flow1, flow2);
    }

    static Task<string> FetchTextAsync(Microsoft.Playwright.IPage page, string href) =>
        page.EvaluateAsync<string>("href => fetch(href).then(r => r.ok ? r.text() : Promise.reject(new Error(r.status + ' ' + href)))", href);

    [Fact]
    public async Task TheFileATaskSaved_AndTheResultAFlowStored_AreLinkedFromTheirTasks()
    {
        var text1 = $"Linked {Guid.NewGuid():N}";
        var (flow1, flow2) = await StoreAsync(text1);
        var page = await fixture.NewPageAsync();

        await Ui.GotoRunAsync(page, flow1);
        var save = await Ui.OpenTaskFromTimelineAsync(page, "save_text_file");
        var fileLink = save.Locator("a.file-link").First;
        var fileHref = await fileLink.GetAttributeAsync("href");
        Assert.StartsWith("/api/files/content?rep=", fileHref, StringComparison.Ordinal);
        Assert.Equal($"{text1} World", await FetchTextAsync(page, fileHref!));

        await Ui.GotoRunAsync(page, flow2);
        var stored = await Ui.OpenTaskFromTimelineAsync(page, "save_db_result");
        var resultHref = await stored.Locator("a.result-link").First.GetAttributeAsync("href");
        Assert.StartsWith("/api/result?rep=", resultHref, StringComparison.Ordinal);
        Assert.Contains(text1, await FetchTextAsync(page, resultHref!));
        Ui.AssertNoPageErrors(page);
    }

    [Fact]
    public async Task TheResultsPage_ShowsAFlowsStoredResults_AsText()
    {
        var marker = Guid.NewGuid().ToString("N");
        var text1 = $"<script>window.__xss=1</script><img src=x onerror=\"window.__xss=1\">{marker}";
        await StoreAsync(text1);
        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/results");

        await page.Locator("input#results-flow").FillAsync("flow2");
        await page.Locator("button#results-search").ClickAsync();

        var shown = page.Locator("#results-list .result pre", new() { HasTextString = marker });
        await shown.First.WaitForAsync();
        Assert.True(await page.EvaluateAsync<bool>("() => document.querySelector('#results-list script, #results-list img') === null"));
        await page.WaitForTimeoutAsync(300);
        Assert.True(await page.EvaluateAsync<bool>("() => window.__xss === undefined"));
        // The pre holds the stored db-dict as JSON.
        var text = await shown.First.TextContentAsync() ?? "";
        Assert.Contains("<script>window.__xss=1</script>", text);
        using var json = JsonDocument.Parse(text);
        Assert.Equal("flow2", json.RootElement.GetProperty("flow_id").GetString());
        Ui.AssertNoPageErrors(page);
    }
}

namespace Lume.Ui.Tests;

/// <summary>
/// Screenshots of run pages, saved under TestResults/screenshots as the test run's artifacts. With
/// LUME_UPDATE_SCREENSHOTS=1 the README's picture, docs/images/run-page.png, is made again from the same page.
/// </summary>
public sealed class ScreenshotTests(UiFixture fixture) : IClassFixture<UiFixture>
{
    UiHost Host => fixture.Host;

    async Task<string> ShootAsync(string runId, string finalState, string name, string? openTask = null, string? expandNode = null)
    {
        await Host.WaitForRunAsync(runId);
        var page = await fixture.NewPageAsync(1280, 800);
        await Ui.GotoRunAsync(page, runId);
        await Ui.WaitForRunStateAsync(page, finalState);
        await Ui.WaitForGraphAsync(page, "cy.nodes().every(n => n.data('state') !== 'running' && n.data('state') !== 'pending')");
        if (expandNode is not null)
        {
            await Ui.ClickNodeAsync(page, expandNode);
            await Ui.WaitForGraphAsync(page, $"cy.getElementById('{expandNode}[0]').length > 0");
            await page.EvaluateAsync("() => { window.lume.graph.fit(undefined, 20); }");
        }

        if (openTask is not null)
            await Ui.OpenTaskFromTimelineAsync(page, openTask);
        var file = Path.Combine(Ui.ScreenshotFolder(), name);
        await page.ScreenshotAsync(new() { Path = file, FullPage = true });
        Assert.True(new FileInfo(file).Length > 1000, $"{file} is (nearly) empty");
        Ui.AssertNoPageErrors(page);
        await page.Context.CloseAsync();
        return file;
    }

    [Fact]
    public async Task Flow1RunPage()
    {
        var runId = await Host.StartRunAsync("flow1", Ui.Flow1Parameters("Hello", $"ui-{Guid.NewGuid():N}.txt"));
        await ShootAsync(runId, "completed", "run-page-flow1.png", openTask: "append_text");
    }

    [Fact]
    public async Task FailingFlowRunPage()
    {
        var runId = await Host.StartRunAsync("failing_flow", new { message = "the model diverged at step 42" });
        await ShootAsync(runId, "failed", "run-page-failing_flow.png", openTask: "raise_error");
    }

    [Fact]
    public async Task FanOutRunPage()
    {
        var runId = await Host.StartRunAsync("fanout_20", new { });
        await ShootAsync(runId, "completed", "run-page-fanout_20.png", openTask: "gather");
    }

    [Fact]
    public async Task SubflowRunPage()
    {
        var runId = await Host.StartRunAsync("subflow", new { values = new[] { 1, 2, 3, 4, 5 } });
        await ShootAsync(runId, "completed", "run-page-subflow.png", openTask: "squares");
    }

    [Fact]
    public async Task MappedRunPage_IsTheReadmePicture()
    {
        var runId = await Host.StartRunAsync("map_square", new { values = new[] { 1, 2, 3, 4, 5, 6 } });
        var file = await ShootAsync(runId, "completed", "run-page-map_square.png", openTask: "sum", expandNode: "square");
        if (Environment.GetEnvironmentVariable("LUME_UPDATE_SCREENSHOTS") == "1")
        {
            var readme = Path.Combine(Ui.RepositoryRoot(), "docs", "images", "run-page.png");
            Directory.CreateDirectory(Path.GetDirectoryName(readme)!);
            File.Copy(file, readme, overwrite: true);
        }
    }
}

namespace Lume.Ui.Tests;

/// <summary>The run page: the graph and timeline of a run, a task's details, and what the page does (cancel, approve), live.</summary>
public sealed class RunPageTests(UiFixture fixture) : IClassFixture<UiFixture>
{
    UiHost Host => fixture.Host;

    [Fact]
    public async Task AFailedTask_ShowsItsErrorInItsDetails_AndTheTaskAfterItIsSkipped()
    {
        var message = $"boom {Guid.NewGuid():N}";
        var runId = await Host.StartRunAsync("failing_flow", new { message });
        await Host.WaitForRunAsync(runId);
        var page = await fixture.NewPageAsync();

        await Ui.GotoRunAsync(page, runId);

        await Ui.WaitForRunStateAsync(page, "failed");
        await Ui.WaitForNodeStateAsync(page, "raise_error", "failed");
        await Ui.WaitForNodeStateAsync(page, "append_text", "skipped");
        // A node is coloured by its state.
        Assert.NotEqual(await Ui.NodeColourAsync(page, "raise_error"), await Ui.NodeColourAsync(page, "append_text"));
        var details = await Ui.OpenTaskFromTimelineAsync(page, "raise_error");
        Assert.Contains(message, await details.Locator("pre.task-error").TextContentAsync());
        Assert.Contains("failed", await details.Locator(".task-state").TextContentAsync());
        Assert.Equal(0, await page.Locator("#cancel-run:enabled").CountAsync());
        Ui.AssertNoPageErrors(page);
    }

    [Fact]
    public async Task ASlowRun_ProgressesLive_AndCancellingItFromThePage_EndsItCancelled()
    {
        var runId = await Host.StartRunAsync("chaos_slow", new { });
        var page = await fixture.NewPageAsync();
        var dialogs = new List<string>();
        page.Dialog += async (_, dialog) =>
        {
            lock (dialogs) dialogs.Add(dialog.Type);
            await dialog.AcceptAsync();
        };

        await Ui.GotoRunAsync(page, runId);
        await Ui.WaitForRunStateAsync(page, "running");
        await Ui.WaitForGraphAsync(page, "cy.nodes().some(n => n.data('state') === 'running')");
        var completedAtFirst = await page.EvaluateAsync<int>("() => window.lume.graph.nodes().filter(n => n.data('state') === 'completed').length");
        // Without reloading: a step completes (one a second) while the run goes on.
        await Ui.WaitForGraphAsync(page,
            $"cy.nodes().filter(n => n.data('state') === 'completed').length > {completedAtFirst} && document.querySelector('#run-state').textContent.trim() === 'running'");
        Assert.True(await page.Locator("#cancel-run").IsEnabledAsync());
        var colours = await page.EvaluateAsync<string[]>(
            "() => ['running', 'completed'].map(s => window.lume.graph.nodes().filter(n => n.data('state') === s)[0]).filter(n => n).map(n => n.style('background-color'))");
        if (colours.Length == 2)
            Assert.NotEqual(colours[0], colours[1]);

        await page.Locator("#cancel-run").ClickAsync();

        await Ui.WaitForRunStateAsync(page, "cancelled");
        lock (dialogs)
            Assert.Equal(["confirm"], dialogs);
        var run = await Host.GetRunAsync(runId);
        Assert.Equal("cancelled", run.GetProperty("state").GetString());
        Assert.Equal(0, await page.Locator("#cancel-run:enabled").CountAsync());
        Ui.AssertNoPageErrors(page);
    }

    [Fact]
    public async Task APausedTask_IsApprovedFromItsDetails_AndTheRunCompletes()
    {
        var runId = await Host.StartRunAsync("approval", new { });
        var page = await fixture.NewPageAsync();
        page.Dialog += async (_, dialog) => await dialog.AcceptAsync();

        await Ui.GotoRunAsync(page, runId);
        await Ui.WaitForNodeStateAsync(page, "publish", "paused");
        var prepare = await Ui.OpenTaskFromTimelineAsync(page, "prepare");
        Assert.Equal(0, await prepare.Locator("button.approve").CountAsync());
        var details = await Ui.OpenTaskFromTimelineAsync(page, "publish");

        await details.Locator("button.approve").ClickAsync();

        await Ui.WaitForRunStateAsync(page, "completed");
        await Ui.WaitForNodeStateAsync(page, "publish", "completed");
        var run = await Host.GetRunAsync(runId);
        Assert.Equal("completed", run.GetProperty("state").GetString());
        Ui.AssertNoPageErrors(page);
    }

    [Fact]
    public async Task AMappedTask_IsOneNode_UntilClicked_ThenItsChildrenAreShown()
    {
        var runId = await Host.StartRunAsync("map_square", new { values = new[] { 1, 2, 3, 4 } });
        await Host.WaitForRunAsync(runId);
        var page = await fixture.NewPageAsync();

        await Ui.GotoRunAsync(page, runId);
        await Ui.WaitForRunStateAsync(page, "completed");

        var before = await Ui.NodeStatesAsync(page);
        Assert.Contains("square", before.Keys);
        Assert.DoesNotContain(before.Keys, id => id.StartsWith("square[", StringComparison.Ordinal));
        Assert.Equal("completed", before["sum"]);

        await Ui.ClickNodeAsync(page, "square");

        await Ui.WaitForGraphAsync(page, "['square[0]', 'square[1]', 'square[2]', 'square[3]'].every(id => cy.getElementById(id).length > 0)");
        var after = await Ui.NodeStatesAsync(page);
        Assert.All(Enumerable.Range(0, 4), i => Assert.Equal("completed", after[$"square[{i}]"]));
        Assert.DoesNotContain("square[4]", after.Keys);
        Ui.AssertNoPageErrors(page);
    }

    [Fact]
    public async Task TextFromTheRun_IsShownAsText_NeverAsMarkup()
    {
        const string attack = "<img src=x onerror=\"window.__xss=1\"><script>window.__xss=1</script>";
        var failing = await Host.StartRunAsync("failing_flow", new { message = attack });
        var bold = await Host.StartRunAsync("flow1", Ui.Flow1Parameters("<b>bold</b>", $"ui-{Guid.NewGuid():N}.txt"));
        await Host.WaitForRunAsync(failing);
        await Host.WaitForRunAsync(bold);
        var page = await fixture.NewPageAsync();

        await Ui.GotoRunAsync(page, failing);
        await Ui.WaitForRunStateAsync(page, "failed");
        var details = await Ui.OpenTaskFromTimelineAsync(page, "raise_error");
        var error = await details.Locator("pre.task-error").TextContentAsync();
        Assert.Contains("<script>window.__xss=1</script>", error);
        Assert.Contains("<img src=x", error);
        Assert.True(await page.EvaluateAsync<bool>("() => document.querySelector('#task-details script, #task-details img') === null"));
        await page.WaitForTimeoutAsync(300);
        Assert.True(await page.EvaluateAsync<bool>("() => window.__xss === undefined"));

        await Ui.GotoRunAsync(page, bold);
        await Ui.WaitForRunStateAsync(page, "completed");
        details = await Ui.OpenTaskFromTimelineAsync(page, "append_text");
        Assert.Contains("<b>bold</b> World", await details.Locator("pre.task-result").TextContentAsync());
        Assert.True(await page.EvaluateAsync<bool>("() => document.querySelector('#task-details b, #task-details script, #task-details img') === null"));
        Assert.True(await page.EvaluateAsync<bool>("() => window.__xss === undefined"));
        Ui.AssertNoPageErrors(page);
    }
}

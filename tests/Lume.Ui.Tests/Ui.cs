using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;

namespace Lume.Ui.Tests;

/// <summary>What the tests do with the view's pages, in the terms of its DOM contract (docs: the web view's spec).</summary>
public static partial class Ui
{
    internal static readonly ConditionalWeakTable<IPage, List<string>> PageErrors = new();

    /// <summary>The page's uncaught script errors so far.</summary>
    public static IReadOnlyList<string> ErrorsOf(IPage page)
    {
        if (!PageErrors.TryGetValue(page, out var errors))
            return [];
        lock (errors)
            return [.. errors];
    }

    public static void AssertNoPageErrors(IPage page)
    {
        var errors = ErrorsOf(page);
        Assert.True(errors.Count == 0, "the page's script failed: " + string.Join(" | ", errors));
    }

    /// <summary>Opens /runs/{id} and waits until its graph is laid out (#graph[data-ready="true"]).</summary>
    public static async Task GotoRunAsync(IPage page, string runId)
    {
        await page.GotoAsync($"/runs/{runId}");
        await page.WaitForSelectorAsync("#graph[data-ready=\"true\"]", new() { State = WaitForSelectorState.Attached });
    }

    /// <summary>Every node's data('state'), by node id.</summary>
    public static async Task<Dictionary<string, string>> NodeStatesAsync(IPage page) =>
        await page.EvaluateAsync<Dictionary<string, string>>(
            "() => Object.fromEntries(window.lume.graph.nodes().map(n => [n.id(), n.data('state')]))");

    /// <summary>Waits until a JavaScript predicate over the graph's nodes holds (it gets the cytoscape instance as cy).</summary>
    public static async Task WaitForGraphAsync(IPage page, string predicate, int timeoutMs = 30_000)
    {
        try
        {
            await page.WaitForFunctionAsync(
                $"() => {{ const cy = window.lume && window.lume.graph; if (!cy) return false; return ({predicate}); }}",
                null, new() { Timeout = timeoutMs, PollingInterval = 100 });
        }
        catch (TimeoutException)
        {
            var states = await page.EvaluateAsync<string>(
                "() => window.lume && window.lume.graph ? JSON.stringify(window.lume.graph.nodes().map(n => n.id() + '=' + n.data('state'))) : 'no graph'");
            throw new TimeoutException($"the graph never satisfied {predicate}; its nodes: {states}; run state: {await RunStateAsync(page)}");
        }
    }

    /// <summary>Waits until the node's data('state') is the given state.</summary>
    public static Task WaitForNodeStateAsync(IPage page, string slug, string state, int timeoutMs = 30_000) =>
        WaitForGraphAsync(page, $"cy.getElementById({JsonSerializer.Serialize(slug)}).length > 0 && cy.getElementById({JsonSerializer.Serialize(slug)}).data('state') === {JsonSerializer.Serialize(state)}", timeoutMs);

    /// <summary>The colour cytoscape fills a node with (its style's background-color).</summary>
    public static Task<string> NodeColourAsync(IPage page, string slug) =>
        page.EvaluateAsync<string>("id => window.lume.graph.getElementById(id).style('background-color')", slug);

    /// <summary>The text of #run-state, or "(none)".</summary>
    public static async Task<string> RunStateAsync(IPage page)
    {
        var element = await page.QuerySelectorAsync("#run-state");
        return element is null ? "(none)" : (await element.TextContentAsync() ?? "").Trim();
    }

    /// <summary>Waits until #run-state says the state (its text and its data-state).</summary>
    public static async Task WaitForRunStateAsync(IPage page, string state, int timeoutMs = 30_000)
    {
        try
        {
            await page.WaitForFunctionAsync(
                "s => { const e = document.querySelector('#run-state'); return !!e && e.textContent.trim() === s && e.dataset.state === s; }",
                state, new() { Timeout = timeoutMs, PollingInterval = 100 });
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"#run-state never said {state}; it says {await RunStateAsync(page)}");
        }
    }

    /// <summary>Opens a task's details by clicking its row in #timeline; returns #task-details for it.</summary>
    public static async Task<ILocator> OpenTaskFromTimelineAsync(IPage page, string slug)
    {
        await page.Locator($"#timeline [data-slug=\"{slug}\"]").First.ClickAsync();
        var details = page.Locator($"#task-details[data-slug=\"{slug}\"]");
        await details.WaitForAsync();
        return details;
    }

    /// <summary>Clicks a graph node with the mouse, where cytoscape drew it.</summary>
    public static async Task ClickNodeAsync(IPage page, string slug)
    {
        var box = await page.Locator("#graph").BoundingBoxAsync() ?? throw new InvalidOperationException("#graph is not displayed");
        var position = await page.EvaluateAsync<JsonElement>(
            "id => { const cy = window.lume.graph; const n = cy.getElementById(id); if (n.length === 0) return null; " +
            "cy.center(n); const p = n.renderedPosition(); return { x: p.x, y: p.y }; }", slug);
        Assert.True(position.ValueKind == JsonValueKind.Object, $"the graph has no node {slug}");
        await page.Mouse.ClickAsync((float)(box.X + position.GetProperty("x").GetDouble()), (float)(box.Y + position.GetProperty("y").GetDouble()));
    }

    /// <summary>The run id in a /runs/{id} address.</summary>
    public static string RunIdOf(string url) => RunAddress().Match(url) is { Success: true } m ? m.Groups[1].Value : throw new InvalidOperationException($"{url} is not a run page");

    [GeneratedRegex("/runs/([0-9a-fA-F-]{36})")]
    public static partial Regex RunAddress();

    /// <summary>Flow1's parameters with a file name of its own: a test finds its file by that name.</summary>
    public static object Flow1Parameters(string text1, string filename) =>
        new { text1, text2 = " World", filename, filesystem_identifier = "local" };

    /// <summary>The repository's root (the folder of Lume.sln), found above the test's output folder.</summary>
    public static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
            if (File.Exists(Path.Combine(folder.FullName, "Lume.sln")))
                return folder.FullName;
        throw new InvalidOperationException($"no Lume.sln above {AppContext.BaseDirectory}");
    }

    /// <summary>Where screenshots go: TestResults/screenshots of the repository, as scripts/test collects its results there.</summary>
    public static string ScreenshotFolder()
    {
        var folder = Path.Combine(RepositoryRoot(), "TestResults", "screenshots");
        Directory.CreateDirectory(folder);
        return folder;
    }
}

using Microsoft.Playwright;

// One browser and one host per test class; the classes run one after another (the browser and the services are heavy on a small machine).
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace Lume.Ui.Tests;

/// <summary>One host of the view and one headless Chromium, shared by the tests of a class.</summary>
public class UiFixture : IAsyncLifetime
{
    IPlaywright? _playwright;

    public UiHost Host { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    /// <summary>The token the host requires, or null for none.</summary>
    protected virtual string? Token => null;

    public async Task InitializeAsync()
    {
        (_playwright, Browser) = await Chromium.LaunchAsync();
        Host = await UiHost.StartAsync(Token);
    }

    /// <summary>A fresh page (its own context: no session storage shared between tests), failing on page errors.</summary>
    public async Task<IPage> NewPageAsync(int width = 1280, int height = 900)
    {
        var context = await Browser.NewContextAsync(new() { BaseURL = Host.BaseUrl, ViewportSize = new() { Width = width, Height = height } });
        context.SetDefaultTimeout(20_000);
        var page = await context.NewPageAsync();
        // An uncaught error of the page's script fails the test that saw it (Ui.AssertNoPageErrors).
        var errors = new List<string>();
        page.PageError += (_, error) => { lock (errors) errors.Add(error); };
        Ui.PageErrors.AddOrUpdate(page, errors);
        return page;
    }

    public async Task DisposeAsync()
    {
        if (Host is not null)
            await Host.DisposeAsync();
        if (Browser is not null)
            await Browser.CloseAsync();
        _playwright?.Dispose();
    }
}

/// <summary>The same, with GATEWAY:TOKEN set on the host.</summary>
public sealed class TokenUiFixture : UiFixture
{
    public const string SecretToken = "ui-test-token-7f3a";

    protected override string? Token => SecretToken;
}

using Microsoft.Playwright;

namespace Lume.Ui.Tests;

/// <summary>Debian's Chromium, headless, driven by Playwright's driver (which ships in its NuGet package and needs no network).</summary>
public static class Chromium
{
    /// <summary>
    /// The browser to drive: LUME_CHROMIUM, else /usr/bin/chromium (what scripts/browser-deps installs), else chromium
    /// on PATH. Playwright's own browser downloads are never used.
    /// </summary>
    public static string Find()
    {
        if (Environment.GetEnvironmentVariable("LUME_CHROMIUM") is { Length: > 0 } configured)
        {
            if (!File.Exists(configured))
                throw new InvalidOperationException($"LUME_CHROMIUM is {configured}, which does not exist; unset it, or install Chromium: sudo apt-get install chromium (scripts/browser-deps does it)");
            return configured;
        }

        if (File.Exists("/usr/bin/chromium"))
            return "/usr/bin/chromium";
        foreach (var folder in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            foreach (var name in new[] { "chromium", "chromium-browser" })
                if (File.Exists(Path.Combine(folder, name)))
                    return Path.Combine(folder, name);
        throw new InvalidOperationException(
            "the web view's browser tests need Chromium and found none (not at /usr/bin/chromium, nor on PATH, nor LUME_CHROMIUM): " +
            "run `sudo apt-get install chromium` (scripts/browser-deps does it; .ci/run calls that), or set LUME_CHROMIUM to a Chromium binary");
    }

    public static async Task<(IPlaywright Playwright, IBrowser Browser)> LaunchAsync()
    {
        var executable = Find();
        // Only the install command downloads browsers; this keeps it from ever trying.
        Environment.SetEnvironmentVariable("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = executable, Headless = true });
        return (playwright, browser);
    }
}

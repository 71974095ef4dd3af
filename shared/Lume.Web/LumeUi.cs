using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.FileProviders;

namespace Lume.Web;

/// <summary>
/// Serves the web view: a page that talks to the API of <see cref="LumeApiExtensions.MapLumeApi"/> from the browser.
/// Its files are resources of this assembly (the folder <c>ui/</c>), so the CLI, the Gateway and the tests serve the
/// same view without a folder on disk to find.
/// </summary>
public static class LumeUi
{
    // The view's own addresses: each is the one page, which reads its address and shows that view, so links can be shared.
    static readonly string[] Pages = ["/", "/runs", "/runs/{id}", "/flows", "/results"];

    /// <summary>The files' resource prefix: <c>ui/vendor/x.js</c> is the resource <c>Lume.Web.ui.vendor.x.js</c>.</summary>
    const string Resources = "Lume.Web.ui";

    /// <summary>
    /// Adds the view's pages and its files (under <c>/assets</c>), and the headers that keep whatever the view shows from
    /// running as script: a run's results and errors are anyone's text. Call before <c>MapLumeApi</c>.
    /// </summary>
    public static WebApplication UseLumeUi(this WebApplication app)
    {
        app.Use((context, next) =>
        {
            var headers = context.Response.Headers;
            // Only this origin's own scripts run, no inline script, no plugins, not framed by another site.
            headers.ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
                                            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";
            headers.XContentTypeOptions = "nosniff";
            headers["Referrer-Policy"] = "no-referrer";
            return next(context);
        });
        var files = new EmbeddedFileProvider(typeof(LumeUi).Assembly, Resources);
        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = files,
            RequestPath = "/assets",
            // The files change with the build, not with a version in their names: the browser asks again each time.
            OnPrepareResponse = c => c.Context.Response.Headers.CacheControl = "no-cache",
        });
        foreach (var page in Pages)
            app.MapGet(page, () => Results.Stream(files.GetFileInfo("index.html").CreateReadStream(), "text/html; charset=utf-8"))
                .ExcludeFromDescription();
        return app;
    }
}

using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace Lume.Web;

/// <summary>Refuses an API request without the configured bearer token (401 problem+json); lets every request through when no token is set.</summary>
sealed class BearerToken(IOptions<GatewayOptions> options) : IEndpointFilter
{
    // Hashes of equal length are compared in constant time, so neither the token's content nor its length leaks through timing.
    readonly byte[]? _expected = options.Value.RequiresToken ? SHA256.HashData(Encoding.UTF8.GetBytes(options.Value.Token!)) : null;

    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        if (_expected is null)
            return next(context);
        var header = context.HttpContext.Request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        if (header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)
            && CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(header[scheme.Length..].Trim())), _expected))
            return next(context);
        context.HttpContext.Response.Headers.WWWAuthenticate = "Bearer";
        return ValueTask.FromResult<object?>(Results.Problem(
            statusCode: StatusCodes.Status401Unauthorized,
            title: "Unauthorized",
            detail: string.IsNullOrEmpty(header)
                ? "this API needs a token: send Authorization: Bearer <token> (LUME_GATEWAY__TOKEN)"
                : "the bearer token is not the one configured (LUME_GATEWAY__TOKEN)"));
    }
}

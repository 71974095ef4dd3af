using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;

namespace Lume.Web;

/// <summary>The HTTP API's settings, from <c>LUME_GATEWAY__*</c>.</summary>
public sealed class GatewayOptions : IValidatableObject
{
    /// <summary>The default address: loopback only, so nothing outside this machine reaches the API unless configured to.</summary>
    public const string DefaultUrl = "http://127.0.0.1:8080";

    /// <summary>
    /// <c>LUME_GATEWAY__TOKEN</c>: when set, every <c>/api</c> request must carry <c>Authorization: Bearer &lt;token&gt;</c>.
    /// Unset or empty: no check. Never logged.
    /// </summary>
    [ConfigurationKeyName("TOKEN")]
    public string? Token { get; set; }

    /// <summary><c>LUME_GATEWAY__URL</c>: where the Gateway host listens, <c>http://host:port</c>. Default <c>http://127.0.0.1:8080</c>.</summary>
    [ConfigurationKeyName("URL")]
    public string Url { get; set; } = DefaultUrl;

    /// <summary><c>LUME_GATEWAY__REQUEST_TIMEOUT_SECONDS</c>: how long a request to a service may go unanswered before the API answers 503. Default 10.</summary>
    [Range(1, 300, ErrorMessage = "LUME_GATEWAY__REQUEST_TIMEOUT_SECONDS must be between {1} and {2}")]
    [ConfigurationKeyName("REQUEST_TIMEOUT_SECONDS")]
    public int RequestTimeoutSeconds { get; set; } = 10;

    /// <summary><c>LUME_GATEWAY__ACCEPT_TIMEOUT_SECONDS</c>: how long <c>POST /api/runs</c> waits for the Scheduler to accept or reject the run. Default 20.</summary>
    [Range(1, 300, ErrorMessage = "LUME_GATEWAY__ACCEPT_TIMEOUT_SECONDS must be between {1} and {2}")]
    [ConfigurationKeyName("ACCEPT_TIMEOUT_SECONDS")]
    public int AcceptTimeoutSeconds { get; set; } = 20;

    /// <summary>Whether a token is asked of every request.</summary>
    public bool RequiresToken => !string.IsNullOrEmpty(Token);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!Uri.TryCreate(Url, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps) || url.AbsolutePath != "/")
            yield return new ValidationResult($"LUME_GATEWAY__URL must be http://host:port or https://host:port, not '{Url}'", [nameof(Url)]);
        // The value itself is never repeated: it is a secret.
        if (RequiresToken && string.IsNullOrWhiteSpace(Token))
            yield return new ValidationResult("LUME_GATEWAY__TOKEN must not be only white space (leave it empty for no token)", [nameof(Token)]);
        else if (RequiresToken && Token!.Trim() != Token)
            yield return new ValidationResult("LUME_GATEWAY__TOKEN must not begin or end with white space", [nameof(Token)]);
    }
}

using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;

namespace Lume.Hosting;

/// <summary>Settings every Lume host shares, bound from <c>LUME_*</c> variables.</summary>
public sealed class LumeOptions : IValidatableObject
{
    /// <summary>
    /// <c>LUME_BROKER</c>: the RabbitMQ broker, <c>amqp://user:password@host:port/vhost</c>. Unset means MassTransit's
    /// in-memory transport, on which every service must live in one process (the CLI's embedded mode).
    /// </summary>
    [ConfigurationKeyName("BROKER")]
    public string? Broker { get; set; }

    /// <summary><c>LUME_DATA_DIR</c>: where embedded stores and the local filesystem keep their files. Default <c>./.lume</c>.</summary>
    [Required(ErrorMessage = "LUME_DATA_DIR must not be empty")]
    [ConfigurationKeyName("DATA_DIR")]
    public string DataDir { get; set; } = ".lume";

    /// <summary><c>LUME_LOG_LEVEL</c>: the minimum level logged (Verbose, Debug, Information, Warning, Error, Fatal). Default Information.</summary>
    [ConfigurationKeyName("LOG_LEVEL")]
    [AllowedValues("Verbose", "Debug", "Information", "Warning", "Error", "Fatal",
        ErrorMessage = "LUME_LOG_LEVEL must be one of Verbose, Debug, Information, Warning, Error, Fatal")]
    public string LogLevel { get; set; } = "Information";

    /// <summary><c>LUME_LOG_FORMAT</c>: <c>text</c> (human-readable, the default) or <c>json</c> (compact JSON, one event a line).</summary>
    [ConfigurationKeyName("LOG_FORMAT")]
    [AllowedValues("text", "json", ErrorMessage = "LUME_LOG_FORMAT must be text or json")]
    public string LogFormat { get; set; } = "text";

    /// <summary><c>LUME_HEALTH_FILE</c>: a file that exists while the service is healthy (its bus connected), for container health checks. Unset: none.</summary>
    [ConfigurationKeyName("HEALTH_FILE")]
    public string? HealthFile { get; set; }

    /// <summary>
    /// <c>LUME_MESSAGE_DATA_DIR</c>: where large message content waits for its consumer (the claim check). Every service
    /// and client of one deployment must see the same folder. Default <c>message-data</c> under the data folder.
    /// </summary>
    [ConfigurationKeyName("MESSAGE_DATA_DIR")]
    public string? MessageDataDir { get; set; }

    /// <summary>
    /// <c>LUME_MESSAGE_DATA_HOURS</c>: how long a claim-check copy is kept for a consumer that has not read it yet (a
    /// message waiting in a queue); the folder is swept of older copies. Default 24.
    /// </summary>
    [ConfigurationKeyName("MESSAGE_DATA_HOURS")]
    [Range(1, 8760, ErrorMessage = "LUME_MESSAGE_DATA_HOURS must be between {1} and {2}")]
    public int MessageDataHours { get; set; } = 24;

    /// <summary>The message data folder as a full path.</summary>
    public string MessageDataPath => Path.GetFullPath(MessageDataDir ?? Path.Combine(DataDir, "message-data"));

    /// <summary><c>LUME_TRACE_CONSOLE</c>: also write every span to stdout (OpenTelemetry's console exporter). Default false.</summary>
    [ConfigurationKeyName("TRACE_CONSOLE")]
    public bool TraceConsole { get; set; }

    /// <summary>The data folder as a full path.</summary>
    public string DataPath => Path.GetFullPath(DataDir);

    /// <summary>The broker, or null for the in-memory transport.</summary>
    public BrokerAddress? BrokerAddress => BrokerAddress.TryParse(Broker);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!string.IsNullOrWhiteSpace(Broker) && BrokerAddress is null)
            yield return new ValidationResult(BrokerAddress.Expected, [nameof(Broker)]);
    }
}

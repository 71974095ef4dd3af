using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Schema;
using Lume.Contracts;
using MassTransit.Serialization;

namespace Lume.WireSchemas;

/// <summary>One message a client may send or receive, and where it travels.</summary>
/// <param name="Queue">The queue of the service that consumes it; null for an event only clients consume.</param>
/// <param name="Replies">For a request: the messages that may answer it, at its response address.</param>
public sealed record WireMessage(Type Type, string? Queue, bool ClientSends, string Summary, params Type[] Replies)
{
    /// <summary>The exchange it is published to, named as MassTransit names a message type's exchange.</summary>
    public string Exchange => $"{Type.Namespace}:{Type.Name}";

    /// <summary>The type MassTransit's envelope names it by.</summary>
    public string Urn => $"urn:message:{Exchange}";
}

/// <summary>
/// The JSON Schemas of the public messages (docs/schemas) and the AsyncAPI document of their channels (docs/asyncapi.json),
/// generated from the records in Lume.Contracts with the serializer options MassTransit uses on the wire, so they cannot
/// drift from what travels. A test compares them with the committed files.
/// </summary>
public static class WireDocuments
{
    const string Scheduler = "lume-scheduler";
    const string Results = "lume-results";
    const string Files = "lume-files";

    /// <summary>Every public message: what clients send, what answers them, and the run events they hear.</summary>
    public static readonly IReadOnlyList<WireMessage> Messages =
    [
        new(typeof(RunRequested), Scheduler, true, "Starts a run. Answered by the run events: RunAccepted, then RunCompleted, RunFailed or RunCancelled; or RunFailed (kind rejected) at once."),
        new(typeof(CancelRun), Scheduler, true, "Cancels a run.", typeof(RunSnapshot), typeof(RunNotFound)),
        new(typeof(ApproveTask), Scheduler, true, "Releases a task that waits for approval (trigger manual_only).", typeof(TaskApproval), typeof(RunNotFound)),
        new(typeof(GetRun), Scheduler, true, "Asks for a run's state and its tasks, a page at a time.", typeof(RunSnapshot), typeof(RunNotFound)),
        new(typeof(ListRuns), Scheduler, true, "Asks for the most recent runs, of one flow or in one state if given, with their tasks counted by state.", typeof(RunList)),
        new(typeof(ListFlows), Scheduler, true, "Asks which flows can be run, with their parameters.", typeof(FlowList)),
        new(typeof(GetFlowGraph), Scheduler, true, "Asks for a flow version's tasks and what each waits for.", typeof(FlowGraph), typeof(FlowNotFound)),
        new(typeof(StoreResult), Results, true, "Stores a result (a db-dict).", typeof(ResultStored), typeof(ResultRequestFailed)),
        new(typeof(LoadResult), Results, true, "Loads a stored result by its rep.", typeof(ResultLoaded), typeof(ResultRequestFailed)),
        new(typeof(QueryResults), Results, true, "Finds stored results by field values.", typeof(ResultsFound), typeof(ResultRequestFailed)),
        new(typeof(LoadFile), Files, true, "Loads a saved file by its file rep.", typeof(FileLoaded), typeof(FileRequestFailed)),
        new(typeof(ListFiles), Files, true, "Lists a folder of a filesystem.", typeof(FilesListed), typeof(FileRequestFailed)),
        new(typeof(RunAccepted), null, false, "The Scheduler stored the run and released its first tasks."),
        new(typeof(RunsProgressed), null, false, "The running runs whose tasks changed state in the last second or so, one message a second for all of them (up to 1,000 a message), each listed only once it has gone on for a while. For watchers, which read a listed run again."),
        new(typeof(RunCompleted), null, false, "Every task of the run completed."),
        new(typeof(RunFailed), null, false, "The run failed, or its request was rejected (kind rejected; nothing was stored)."),
        new(typeof(RunCancelled), null, false, "The run was cancelled, by CancelRun or its timeout."),
    ];

    /// <summary>Every type whose schema is written: the messages and their replies.</summary>
    public static IEnumerable<Type> SchemaTypes =>
        Messages.SelectMany(m => m.Replies.Prepend(m.Type)).Distinct().OrderBy(t => t.Name, StringComparer.Ordinal);

    /// <summary>The files, by path under docs/, and their text.</summary>
    public static IReadOnlyDictionary<string, string> Generate()
    {
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var type in SchemaTypes)
            files[Path.Combine("schemas", $"{type.Name}.json")] = Text(Schema(type));
        files["asyncapi.json"] = Text(AsyncApi());
        return files;
    }

    /// <summary>The repository root, found upwards from the running program.</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Lume.sln")))
                return dir.FullName;
        throw new DirectoryNotFoundException("no Lume.sln above " + AppContext.BaseDirectory);
    }

    // MassTransit's own options, as a message is written and read; only which fields a client must send is added (a
    // record's constructor parameters without a default), which the contract asks although the reader is lenient.
    static readonly JsonSerializerOptions WireOptions = new(SystemTextJsonMessageSerializer.Options)
    {
        RespectRequiredConstructorParameters = true,
        RespectNullableAnnotations = true,
    };

    static JsonNode Schema(Type type)
    {
        var schema = WireOptions.GetJsonSchemaAsNode(type, new JsonSchemaExporterOptions { TreatNullObliviousAsNonNullable = true });
        var document = new JsonObject
        {
            ["$schema"] = "https://json-schema.org/draft/2020-12/schema",
            ["title"] = type.Name,
            ["description"] = Messages.FirstOrDefault(m => m.Type == type)?.Summary ?? $"An answer: see {string.Join(", ", Messages.Where(m => m.Replies.Contains(type)).Select(m => m.Type.Name))}.",
        };
        foreach (var (key, value) in schema.AsObject().ToArray())
        {
            schema.AsObject().Remove(key);
            document[key] = value;
        }

        return document;
    }

    static JsonObject AsyncApi()
    {
        var channels = new JsonObject();
        var operations = new JsonObject();
        var messages = new JsonObject();
        foreach (var type in SchemaTypes)
            messages[type.Name] = new JsonObject
            {
                ["name"] = type.Name,
                ["title"] = $"{type.Name} ({$"urn:message:{type.Namespace}:{type.Name}"})",
                ["contentType"] = "application/vnd.masstransit+json",
                ["payload"] = new JsonObject { ["$ref"] = $"schemas/{type.Name}.json" },
            };
        foreach (var message in Messages)
        {
            channels[message.Type.Name] = new JsonObject
            {
                ["address"] = message.Exchange,
                ["description"] = message.Queue is null
                    ? $"The fanout exchange {message.Type.Name} events are published to; a client binds a queue of its own to it."
                    : $"The fanout exchange {message.Type.Name} is published to; it reaches the queue {message.Queue}.",
                ["messages"] = new JsonObject { [message.Type.Name] = new JsonObject { ["$ref"] = $"#/components/messages/{message.Type.Name}" } },
                ["bindings"] = new JsonObject
                {
                    ["amqp"] = new JsonObject
                    {
                        ["is"] = "routingKey",
                        ["exchange"] = new JsonObject { ["name"] = message.Exchange, ["type"] = "fanout", ["durable"] = true, ["autoDelete"] = false, ["vhost"] = "/" },
                    },
                },
            };
            var operation = new JsonObject
            {
                ["action"] = message.ClientSends ? "send" : "receive",
                ["summary"] = message.Summary,
                ["channel"] = new JsonObject { ["$ref"] = $"#/channels/{message.Type.Name}" },
            };
            if (message.Replies.Length > 0)
                operation["reply"] = new JsonObject
                {
                    ["address"] = new JsonObject
                    {
                        ["description"] = "The request's responseAddress (in the envelope, or the MT-Response-Address header of a plain JSON request).",
                        ["location"] = "$message.payload#/responseAddress",
                    },
                    ["messages"] = new JsonArray(message.Replies.Select(r => (JsonNode)new JsonObject { ["$ref"] = $"#/components/messages/{r.Name}" }).ToArray()),
                };
            operations[$"{(message.ClientSends ? "send" : "receive")}{message.Type.Name}"] = operation;
        }

        return new JsonObject
        {
            ["asyncapi"] = "3.0.0",
            ["info"] = new JsonObject
            {
                ["title"] = "Lume",
                ["version"] = "1",
                ["description"] = "The messages a client of Lume sends and receives on RabbitMQ. Generated from Lume.Contracts by " +
                    "tools/Lume.WireSchemas; docs/wire-protocol.md explains the envelope, plain JSON bodies and the guarantees.",
            },
            ["defaultContentType"] = "application/vnd.masstransit+json",
            ["servers"] = new JsonObject
            {
                ["rabbitmq"] = new JsonObject { ["host"] = "localhost:5672", ["protocol"] = "amqp", ["protocolVersion"] = "0.9.1" },
            },
            ["channels"] = channels,
            ["operations"] = operations,
            ["components"] = new JsonObject { ["messages"] = messages },
        };
    }

    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    static string Text(JsonNode node) => node.ToJsonString(Indented).ReplaceLineEndings("\n") + "\n";
}

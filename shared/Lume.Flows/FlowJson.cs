using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Lume.Flows;

/// <summary>The JSON form of a flow definition; <see cref="Parse(string)"/> reads what <see cref="Write"/> writes.</summary>
public static class FlowJson
{
    // Required members and non-nullable references are enforced by the serializer, so a
    // hand-written definition with a missing "tasks" or "slug" fails here with its JSON path.
    static readonly JsonSerializerOptions Options = new()
    {
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
    };

    /// <summary>The definition as JSON text.</summary>
    public static string Write(FlowDefinition flow) => JsonSerializer.Serialize(flow, Options);

    /// <summary>The definition as UTF-8 JSON, written a piece at a time: no pooled buffer the size of a big flow's text stays behind.</summary>
    public static byte[] Utf8(FlowDefinition flow)
    {
        using var text = new MemoryStream();
        JsonSerializer.Serialize(text, flow, Options);
        return text.ToArray();
    }

    static readonly ConditionalWeakTable<FlowDefinition, byte[]> Digests = new();

    /// <summary>
    /// A SHA-256 of the definition's JSON, worked out once per definition: two definitions are the same flow when their
    /// digests are equal. Only the digest is kept: a 100,000-task flow's text is 15 MB.
    /// </summary>
    public static ReadOnlySpan<byte> Digest(FlowDefinition flow) =>
        Digests.GetValue(flow, static f => System.Security.Cryptography.SHA256.HashData(Utf8(f)));

    /// <summary>Writes definitions to a stream as one JSON array, a piece at a time: a big flow's text is never whole in memory.</summary>
    public static void WriteAll(Stream utf8Json, IEnumerable<FlowDefinition> flows) => JsonSerializer.Serialize(utf8Json, flows, Options);

    /// <summary>Reads what <see cref="WriteAll"/> wrote, a piece at a time; a malformed definition is a <see cref="FlowDefinitionException"/>.</summary>
    public static async Task<List<FlowDefinition>> ReadAllAsync(Stream utf8Json, CancellationToken cancellationToken)
    {
        var flows = new List<FlowDefinition>();
        try
        {
            await foreach (var flow in JsonSerializer.DeserializeAsyncEnumerable<FlowDefinition>(utf8Json, Options, cancellationToken))
                flows.Add(flow ?? throw NotAFlow());
        }
        catch (JsonException e)
        {
            throw Malformed(e);
        }

        return flows;
    }

    /// <summary>Reads a definition; malformed JSON or a missing member is a <see cref="FlowDefinitionException"/>.</summary>
    public static FlowDefinition Parse(string json) => Parse(() => JsonSerializer.Deserialize<FlowDefinition>(json, Options));

    /// <summary>Reads a definition that came inside a message, without writing it out as text first (a big flow's text runs to megabytes).</summary>
    public static FlowDefinition Parse(JsonElement json) => Parse(() => json.Deserialize<FlowDefinition>(Options));

    static FlowDefinition Parse(Func<FlowDefinition?> deserialize)
    {
        FlowDefinition? flow;
        try
        {
            flow = deserialize();
        }
        catch (JsonException e)
        {
            throw Malformed(e);
        }

        return flow ?? throw NotAFlow();
    }

    static FlowDefinitionException Malformed(JsonException e) => new([$"flow JSON is malformed at {e.Path ?? "$"}: {e.Message}"]);

    static FlowDefinitionException NotAFlow() => new(["flow JSON must be an object with name, version, parameters and tasks"]);
}

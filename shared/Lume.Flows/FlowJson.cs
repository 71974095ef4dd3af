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

    /// <summary>Writes the definition to a stream as UTF-8 JSON, a piece at a time: a big flow's text is never whole in memory.</summary>
    public static void WriteUtf8(Stream utf8Json, FlowDefinition flow) => JsonSerializer.Serialize(utf8Json, flow, Options);

    static readonly ConditionalWeakTable<FlowDefinition, Measured> Measures = new();

    /// <summary>
    /// The length of the definition's UTF-8 JSON and a SHA-256 of it, worked out once per definition without keeping the
    /// text (a 100,000-task flow's is 15 MB): two definitions are the same flow when their digests are equal, and a
    /// store can make room for the text before it writes it a piece at a time.
    /// </summary>
    public static (long Length, ReadOnlyMemory<byte> Digest) Measure(FlowDefinition flow)
    {
        var measured = Measures.GetValue(flow, static f =>
        {
            using var measuring = new MeasuringStream();
            WriteUtf8(measuring, f);
            return new Measured(measuring.Length, measuring.Digest());
        });
        return (measured.Length, measured.Digest);
    }

    sealed record Measured(long Length, byte[] Digest);

    // Counts and hashes what is written to it, and keeps none of it.
    sealed class MeasuringStream : Stream
    {
        readonly System.Security.Cryptography.IncrementalHash _hash =
            System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        long _length;

        public byte[] Digest() => _hash.GetHashAndReset();

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            _hash.AppendData(buffer);
            _length += buffer.Length;
        }

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => _length;
        public override long Position { get => _length; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                _hash.Dispose();
            base.Dispose(disposing);
        }
    }

    /// <summary>Writes definitions to a stream as one JSON array, a piece at a time: a big flow's text is never whole in memory.</summary>
    public static void WriteAll(Stream utf8Json, IEnumerable<FlowDefinition> flows) => JsonSerializer.Serialize(utf8Json, flows, Options);

    /// <summary>Reads what <see cref="WriteAll"/> wrote, a piece at a time; a malformed definition is a <see cref="FlowDefinitionException"/>.</summary>
    public static async Task<List<FlowDefinition>> ReadAllAsync(Stream utf8Json, CancellationToken cancellationToken)
    {
        var flows = new List<FlowDefinition>();
        using var names = DefinitionReading.Begin();
        try
        {
            await foreach (var flow in JsonSerializer.DeserializeAsyncEnumerable<FlowDefinition>(utf8Json, Options, cancellationToken))
            {
                DefinitionReading.EndDefinition();
                flows.Add(flow ?? throw NotAFlow());
            }
        }
        catch (JsonException e)
        {
            throw Malformed(e);
        }

        return flows;
    }

    /// <summary>Reads a definition; malformed JSON or a missing member is a <see cref="FlowDefinitionException"/>.</summary>
    public static FlowDefinition Parse(string json) => Parse(() => JsonSerializer.Deserialize<FlowDefinition>(json, Options));

    /// <summary>Reads a definition from UTF-8 JSON in a stream, a piece at a time.</summary>
    public static FlowDefinition Parse(Stream utf8Json) => Parse(() => JsonSerializer.Deserialize<FlowDefinition>(utf8Json, Options));

    /// <summary>Reads a definition that came inside a message, without writing it out as text first (a big flow's text runs to megabytes).</summary>
    public static FlowDefinition Parse(JsonElement json) => Parse(() => json.Deserialize<FlowDefinition>(Options));

    static FlowDefinition Parse(Func<FlowDefinition?> deserialize)
    {
        FlowDefinition? flow;
        using var names = DefinitionReading.Begin();
        try
        {
            flow = deserialize();
            DefinitionReading.EndDefinition();
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

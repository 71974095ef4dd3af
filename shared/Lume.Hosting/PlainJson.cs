using System.Collections;
using System.Diagnostics.CodeAnalysis;
using System.Net.Mime;
using System.Runtime.Serialization;
using MassTransit;
using MassTransit.Serialization;

namespace Lume.Hosting;

/// <summary>
/// Lets a client that cannot build MassTransit's envelope send a message as a plain JSON body (content type
/// <c>application/json</c>, or none at all): a Python script with pika, a shell with <c>rabbitmqadmin</c>. Only the queues
/// clients send to take it (<see cref="ClientQueues"/>); docs/wire-protocol.md says how.
/// </summary>
/// <remarks>
/// Without an envelope a message says nothing of its type, and a queue with many consumers would hand it to each of them
/// (MassTransit's raw deserializer does when no type is known): one plain <c>RunRequested</c> would also be read as a
/// <c>CancelRun</c> and a <c>GetRun</c> of the same run id. So the type must be known, and it is taken, in this order, from
/// the <c>MT-MessageType</c> header, or from the exchange the client published to when that is a message type's exchange
/// (<c>Lume.Contracts:RunRequested</c>, as MassTransit names them). A body with neither is refused whole, saying what it lacks,
/// and lands in the queue's <c>_error</c> queue with that reason.
/// </remarks>
public static class PlainJson
{
    /// <summary>The queues whose messages clients send, which therefore take plain JSON bodies.</summary>
    public static readonly IReadOnlySet<string> ClientQueues = new HashSet<string>(StringComparer.Ordinal)
    {
        LumeQueues.Scheduler, LumeQueues.Files, LumeQueues.Results,
    };

    /// <summary>Where the type of a message comes from when a client sends plain JSON.</summary>
    public const string MessageTypeHeader = MessageHeaders.MessageType;

    // RabbitMQ's delivery names the exchange a message was first published to; MassTransit gives it as this header.
    const string ExchangeHeader = "RabbitMQ-ExchangeName";

    const string ContractsPrefix = "Lume.Contracts:";

    /// <summary>Has <paramref name="endpoint"/> take plain JSON bodies beside MassTransit's envelope, when it is a client queue.</summary>
    public static void Configure(string queue, IReceiveEndpointConfigurator endpoint)
    {
        if (!ClientQueues.Contains(queue))
            return;
        endpoint.AddDeserializer(new Factory());
        // A client that sets no content type at all has sent plain JSON: MassTransit always names its own.
        endpoint.DefaultContentType = SystemTextJsonRawMessageSerializer.JsonContentType;
    }

    /// <summary>The message type a plain body is for, or null: see the remarks of <see cref="PlainJson"/>.</summary>
    public static string? MessageTypeOf(Headers headers)
    {
        if (headers.TryGetHeader(MessageTypeHeader, out var named) && named is string type && !string.IsNullOrWhiteSpace(type))
            return type;
        return headers.TryGetHeader(ExchangeHeader, out var exchange) && exchange is string name
            && name.StartsWith(ContractsPrefix, StringComparison.Ordinal) && name.Length > ContractsPrefix.Length
                ? $"urn:message:{name}"
                : null;
    }

    sealed class Factory : ISerializerFactory
    {
        public ContentType ContentType => SystemTextJsonRawMessageSerializer.JsonContentType;

        public IMessageSerializer CreateSerializer() => new SystemTextJsonRawMessageSerializer(Options);

        public IMessageDeserializer CreateDeserializer() => new Deserializer();
    }

    // The raw deserializer's transport headers as a message's headers, but never its willingness to be any type.
    const RawSerializerOptions Options = RawSerializerOptions.AddTransportHeaders | RawSerializerOptions.CopyHeaders;

    sealed class Deserializer : IMessageDeserializer
    {
        readonly SystemTextJsonRawMessageSerializer _raw = new(Options);

        public ContentType ContentType => _raw.ContentType;

        public void Probe(ProbeContext context) => _raw.Probe(context);

        public ConsumeContext Deserialize(ReceiveContext receiveContext) =>
            new BodyConsumeContext(receiveContext, Deserialize(receiveContext.Body, receiveContext.TransportHeaders, receiveContext.InputAddress));

        public SerializerContext Deserialize(MessageBody body, Headers headers, Uri? destinationAddress = null)
        {
            var type = MessageTypeOf(headers) ?? throw new SerializationException(
                $"a plain JSON message must name its type: publish it to the exchange of its message type (e.g. 'Lume.Contracts:RunRequested'), " +
                $"or set the header '{MessageTypeHeader}' (e.g. 'urn:message:Lume.Contracts:RunRequested'); see docs/wire-protocol.md");
            return _raw.Deserialize(body, new Typed(headers, type), destinationAddress);
        }

        public MessageBody GetMessageBody(string text) => _raw.GetMessageBody(text);
    }

    // The transport's headers, with the message type the body is for.
    sealed class Typed(Headers inner, string type) : Headers
    {
        public IEnumerable<KeyValuePair<string, object>> GetAll() =>
            inner.GetAll().Where(h => h.Key != MessageTypeHeader).Append(new(MessageTypeHeader, type));

        public bool TryGetHeader(string key, [NotNullWhen(true)] out object? value)
        {
            if (key == MessageTypeHeader)
            {
                value = type;
                return true;
            }

            return inner.TryGetHeader(key, out value);
        }

        public T? Get<T>(string key, T? defaultValue = null) where T : class =>
            key == MessageTypeHeader ? type as T ?? defaultValue : inner.Get(key, defaultValue);

        public T? Get<T>(string key, T? defaultValue = null) where T : struct => inner.Get(key, defaultValue);

        public IEnumerator<HeaderValue> GetEnumerator() => GetAll().Select(h => new HeaderValue(h.Key, h.Value)).GetEnumerator();

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
}

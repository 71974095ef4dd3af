using System.Text;
using System.Text.Json.Nodes;
using RabbitMQ.Client;
using Xunit.Abstractions;

namespace Lume.Integration.Tests;

/// <summary>
/// A client that is not Lume's, on the broker's own client library: what docs/wire-protocol.md promises for plain JSON bodies
/// (no MassTransit envelope), checked on the wire against the real services.
/// </summary>
[Collection("RabbitMQ")]
public sealed class PlainJsonTests(ITestOutputHelper output) : ClusterTest(output)
{
    static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);

    static readonly JsonObject Flow1Parameters = new()
    {
        ["text1"] = "Hello", ["text2"] = "Plain", ["filename"] = "plain.txt", ["filesystem_identifier"] = "local",
    };

    [Fact]
    public async Task APlainJsonRunRequest_PublishedToItsExchange_Runs_AndTheEndsArriveWithNamedKinds()
    {
        await Cluster.StartSchedulerAsync();
        await Cluster.StartFileServiceAsync();
        await Cluster.StartWorkerAsync("worker-1");
        await using var wire = await Wire.OpenAsync(Cluster.BrokerUrl, "Lume.Contracts:RunCompleted", "Lume.Contracts:RunFailed");

        var completed = Guid.NewGuid();
        var rejected = Guid.NewGuid();
        // No content type, no headers: the exchange names the type, and a body without one is taken as plain JSON.
        await wire.PublishAsync("Lume.Contracts:RunRequested", new JsonObject
        {
            ["runId"] = completed.ToString(), ["flow"] = "flow1", ["parameters"] = Flow1Parameters.DeepClone(),
        }, contentType: null);
        await wire.PublishAsync("Lume.Contracts:RunRequested", new JsonObject
        {
            ["runId"] = rejected.ToString(), ["flow"] = "flow1", ["parameters"] = new JsonObject { ["text1"] = "only one" },
        });

        var ended = await wire.ReceiveAsync(completed);
        Assert.Equal("urn:message:Lume.Contracts:RunCompleted", ended["messageType"]![0]!.GetValue<string>());
        Assert.Equal("HelloPlain", await File.ReadAllTextAsync(Path.Combine(Cluster.FilesRoot, "plain.txt")));

        var refused = (await wire.ReceiveAsync(rejected))["message"]!;
        Assert.Equal("rejected", refused["kind"]!.GetValue<string>());
        var problems = refused["problems"]!.AsArray().Select(p => p!.GetValue<string>()).ToArray();
        Assert.Contains(problems, p => p.Contains("'text2'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("'filename'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task APlainRequest_TypedByItsHeader_IsAnswered_AndABodyOfNoKnownType_IsSetAsideWithoutEffect()
    {
        await Cluster.StartSchedulerAsync();
        await Cluster.StartFileServiceAsync();
        await Cluster.StartWorkerAsync("worker-1");
        await using var wire = await Wire.OpenAsync(Cluster.BrokerUrl, "Lume.Contracts:RunAccepted", "Lume.Contracts:RunFailed");

        // Straight to the Scheduler's queue, with no type anywhere: it must not be read as every message the queue takes
        // (a RunRequested, but also a CancelRun and a GetRun of that run id). It is refused whole and set aside.
        var untyped = Guid.NewGuid();
        await wire.SendToQueueAsync("lume-scheduler", new JsonObject
        {
            ["runId"] = untyped.ToString(), ["flow"] = "flow1", ["parameters"] = Flow1Parameters.DeepClone(), ["reason"] = "x",
        }, headers: new Dictionary<string, object?>());
        await wire.WaitForMessagesAsync("lume-scheduler_error", 1);
        Assert.Contains("must name its type", await wire.FaultMessageAsync("lume-scheduler_error"), StringComparison.Ordinal);

        // Typed by its header, a GetRun is answered at the response address it names, as a MassTransit client's would be.
        var reply = await wire.ReplyQueueAsync();
        var requestId = Guid.NewGuid();
        await wire.SendToQueueAsync("lume-scheduler", new JsonObject { ["runId"] = untyped.ToString() }, headers: new Dictionary<string, object?>
        {
            ["MT-MessageType"] = "urn:message:Lume.Contracts:GetRun",
            ["RequestId"] = requestId.ToString(),
            ["MT-Response-Address"] = reply.Address,
        });
        var answer = await wire.ReceiveAsync(reply.Queue, m => m["requestId"]?.GetValue<string>() == requestId.ToString());
        Assert.Equal("urn:message:Lume.Contracts:RunNotFound", answer["messageType"]![0]!.GetValue<string>());
        Assert.Equal(untyped.ToString(), answer["message"]!["runId"]!.GetValue<string>());
        // Nothing else came of the untyped body: no run was accepted or refused under its id.
        Assert.Null(await wire.TryReceiveAsync(untyped, TimeSpan.FromSeconds(1)));
        Assert.Contains("must name its type", Cluster.Logs, StringComparison.Ordinal);
    }

    /// <summary>A connection of the broker's own client: publishes plain JSON, and reads what Lume sends as JSON.</summary>
    sealed class Wire : IAsyncDisposable
    {
        readonly IConnection _connection;
        readonly IChannel _channel;
        readonly string _events;
        readonly string _virtualHost;

        Wire(IConnection connection, IChannel channel, string events, string virtualHost)
        {
            _connection = connection;
            _channel = channel;
            _events = events;
            _virtualHost = virtualHost;
        }

        public static async Task<Wire> OpenAsync(string brokerUrl, params string[] exchanges)
        {
            var uri = new Uri(brokerUrl);
            var connection = await new ConnectionFactory { Uri = uri }.CreateConnectionAsync();
            var channel = await connection.CreateChannelAsync();
            var events = (await channel.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true)).QueueName;
            // Bound before anything is sent, so no event is missed; declared as MassTransit declares a message type's exchange.
            foreach (var exchange in exchanges)
            {
                await channel.ExchangeDeclareAsync(exchange, ExchangeType.Fanout, durable: true, autoDelete: false);
                await channel.QueueBindAsync(events, exchange, "");
            }

            return new Wire(connection, channel, events, uri.AbsolutePath.Trim('/'));
        }

        public Task PublishAsync(string exchange, JsonObject body, string? contentType = "application/json") =>
            _channel.BasicPublishAsync(exchange, "", false, new BasicProperties { ContentType = contentType }, Encoding.UTF8.GetBytes(body.ToJsonString())).AsTask();

        public Task SendToQueueAsync(string queue, JsonObject body, IDictionary<string, object?> headers) =>
            _channel.BasicPublishAsync("", queue, false, new BasicProperties { ContentType = "application/json", Headers = headers },
                Encoding.UTF8.GetBytes(body.ToJsonString())).AsTask();

        /// <summary>A queue for answers, and the address MassTransit sends them to: the exchange of the same name, bound to it here.</summary>
        public async Task<(string Queue, string Address)> ReplyQueueAsync()
        {
            var queue = $"plain-client-{Guid.NewGuid():N}";
            await _channel.QueueDeclareAsync(queue, durable: false, exclusive: true, autoDelete: true);
            await _channel.ExchangeDeclareAsync(queue, ExchangeType.Fanout, durable: false, autoDelete: true);
            await _channel.QueueBindAsync(queue, queue, "");
            return (queue, $"rabbitmq://127.0.0.1/{_virtualHost}/{queue}?temporary=true");
        }

        public async Task WaitForMessagesAsync(string queue, uint count)
        {
            var deadline = DateTime.UtcNow + Patience;
            while (await CountAsync(queue) < count)
            {
                Assert.True(DateTime.UtcNow < deadline, $"{queue} still holds fewer than {count} messages");
                await Task.Delay(100);
            }
        }

        /// <summary>The reason MassTransit gave for setting aside the first message of an error queue.</summary>
        public async Task<string> FaultMessageAsync(string queue)
        {
            var delivery = await _channel.BasicGetAsync(queue, autoAck: false) ?? throw new InvalidOperationException($"{queue} is empty");
            await _channel.BasicNackAsync(delivery.DeliveryTag, multiple: false, requeue: true);
            return delivery.BasicProperties.Headers?.TryGetValue("MT-Fault-Message", out var reason) == true && reason is byte[] text
                ? Encoding.UTF8.GetString(text)
                : $"no MT-Fault-Message header among {string.Join(", ", delivery.BasicProperties.Headers?.Keys ?? [])}";
        }

        // On a channel of its own: asking for a queue that does not exist yet closes the channel that asked.
        async Task<uint> CountAsync(string queue)
        {
            await using var channel = await _connection.CreateChannelAsync();
            try
            {
                return (await channel.QueueDeclarePassiveAsync(queue)).MessageCount;
            }
            catch (RabbitMQ.Client.Exceptions.OperationInterruptedException)
            {
                return 0;
            }
        }

        public Task<JsonNode> ReceiveAsync(Guid runId) =>
            ReceiveAsync(_events, m => m["message"]?["runId"]?.GetValue<string>() == runId.ToString());

        public async Task<JsonNode?> TryReceiveAsync(Guid runId, TimeSpan wait)
        {
            try
            {
                return await ReceiveAsync(_events, m => m["message"]?["runId"]?.GetValue<string>() == runId.ToString(), wait);
            }
            catch (TimeoutException)
            {
                return null;
            }
        }

        // What came and was not asked for yet, by queue: events may come in any order.
        readonly List<(string Queue, JsonNode Message)> _received = [];

        public async Task<JsonNode> ReceiveAsync(string queue, Func<JsonNode, bool> match, TimeSpan? wait = null)
        {
            var deadline = DateTime.UtcNow + (wait ?? Patience);
            while (true)
            {
                var index = _received.FindIndex(r => r.Queue == queue && match(r.Message));
                if (index >= 0)
                {
                    var found = _received[index].Message;
                    _received.RemoveAt(index);
                    return found;
                }

                if (DateTime.UtcNow > deadline)
                    throw new TimeoutException($"no matching message on {queue} within {wait ?? Patience}; came: " +
                        string.Join("\n", _received.Select(r => r.Message.ToJsonString())));
                if (await _channel.BasicGetAsync(queue, autoAck: true) is { } delivery)
                    _received.Add((queue, JsonNode.Parse(delivery.Body.Span)!));
                else
                    await Task.Delay(50);
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _channel.DisposeAsync();
            await _connection.DisposeAsync();
        }
    }
}

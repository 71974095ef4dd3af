using System.Net;
using System.Net.Sockets;

namespace Lume.Bench;

/// <summary>
/// A local stand-in for a trace collector: takes OTLP over HTTP (protobuf) and answers 200, counting what it got. It
/// makes the services pay for exporting, which is what is measured, without a collector to install.
/// </summary>
sealed class OtlpSink : IDisposable
{
    readonly HttpListener _listener = new();
    long _requests;
    long _bytes;

    public OtlpSink()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        Endpoint = $"http://127.0.0.1:{port}";
        _listener.Prefixes.Add(Endpoint + "/");
        _listener.Start();
        _ = Task.Run(ServeAsync);
    }

    /// <summary>The address for OTEL_EXPORTER_OTLP_ENDPOINT.</summary>
    public string Endpoint { get; }

    public long Requests => Interlocked.Read(ref _requests);

    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>The environment that points a service's exporter here.</summary>
    public IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>
    {
        ["OTEL_EXPORTER_OTLP_ENDPOINT"] = Endpoint,
        ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
    };

    async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
            {
                return;
            }

            using var body = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(body);
            Interlocked.Increment(ref _requests);
            Interlocked.Add(ref _bytes, body.Length);
            context.Response.StatusCode = 200;
            context.Response.ContentType = "application/x-protobuf";
            context.Response.Close();
        }
    }

    public void Dispose() => _listener.Close();
}

using System.Text.Json;
using System.Threading.Channels;
using MassTransit;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Lume.Web;

/// <summary>
/// A response of server-sent events (<c>text/event-stream</c>), written by hand: ASP.NET Core's own
/// (<c>TypedResults.ServerSentEvents</c>) writes events only, and the keep-alive comments must go out while none come.
/// It owns the watch that feeds it, which ends with the response.
/// </summary>
sealed class EventStream(IDisposable watching, Func<EventStream.Writer, Task> write) : IResult
{
    /// <summary>How often a comment goes out while no event does, so that proxies and browsers keep a quiet stream open.</summary>
    public static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(15);

    public async Task ExecuteAsync(HttpContext context)
    {
        using (watching)
        {
            var response = context.Response;
            var aborted = context.RequestAborted;
            response.ContentType = "text/event-stream";
            response.Headers.CacheControl = "no-cache";
            // A proxy such as nginx would otherwise hold the events back until its buffer fills.
            response.Headers["X-Accel-Buffering"] = "no";
            context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
            var services = context.RequestServices;
            var writer = new Writer(response, services.GetRequiredService<IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions>>().Value.SerializerOptions,
                services.GetRequiredService<TimeProvider>(), aborted);
            try
            {
                await response.StartAsync(aborted);
                await write(writer);
            }
            catch (OperationCanceledException) when (aborted.IsCancellationRequested)
            {
                // The browser went away: nothing to finish.
            }
            catch (RequestTimeoutException)
            {
                // A service stopped answering mid-stream: the stream closes without its end, and the page, reconnecting, reads the run afresh.
            }
        }
    }

    /// <summary>Writes the events of one response.</summary>
    public sealed class Writer(HttpResponse response, JsonSerializerOptions json, TimeProvider time, CancellationToken aborted)
    {
        /// <summary>Cancelled when the browser goes away.</summary>
        public CancellationToken Aborted => aborted;

        /// <summary>Sends one event; its data is JSON, which holds no line break outside its strings (where they are escaped), so one data line.</summary>
        public Task SendAsync(string name, object data) => WriteAsync($"event: {name}\ndata: {JsonSerializer.Serialize(data, json)}\n\n");

        /// <summary>Waits until <paramref name="reader"/> has something to read, sending a keep-alive comment every <see cref="KeepAlive"/> meanwhile; false when it is completed.</summary>
        public async Task<bool> WaitAsync<T>(ChannelReader<T> reader)
        {
            var ready = reader.WaitToReadAsync(aborted).AsTask();
            while (true)
            {
                using var quiet = CancellationTokenSource.CreateLinkedTokenSource(aborted);
                var delay = Task.Delay(KeepAlive, time, quiet.Token);
                if (await Task.WhenAny(ready, delay) == ready)
                {
                    await quiet.CancelAsync();
                    return await ready;
                }

                await WriteAsync(": keep-alive\n\n");
            }
        }

        async Task WriteAsync(string text)
        {
            await response.WriteAsync(text, aborted);
            await response.Body.FlushAsync(aborted);
        }
    }
}

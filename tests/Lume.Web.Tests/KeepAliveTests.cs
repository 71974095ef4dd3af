using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;

namespace Lume.Web.Tests;

/// <summary>An event stream with nothing to say still says something every 15 s, so that proxies and browsers keep it open.</summary>
public sealed class KeepAliveTests
{
    [Fact]
    public async Task AQuietStream_GetsAKeepAliveComment_Every15Seconds_UntilThereIsSomethingToSend()
    {
        var time = new FakeTimeProvider();
        var body = new MemoryStream();
        var context = new DefaultHttpContext { Response = { Body = body } };
        var writer = new EventStream.Writer(context.Response, JsonSerializerOptions.Web, time, CancellationToken.None);
        var channel = Channel.CreateUnbounded<int>();
        string Written() => Encoding.UTF8.GetString(body.ToArray());

        var waiting = writer.WaitAsync(channel.Reader);
        time.Advance(TimeSpan.FromSeconds(14));
        await Task.Delay(50);
        Assert.Equal("", Written());
        time.Advance(TimeSpan.FromSeconds(1));
        await Until(() => Written() == ": keep-alive\n\n");
        // The next wait starts once the comment is flushed, a moment after it shows: time goes on a second at a time.
        await Until(() =>
        {
            time.Advance(TimeSpan.FromSeconds(1));
            return Written() == ": keep-alive\n\n: keep-alive\n\n";
        });

        channel.Writer.TryWrite(1);

        Assert.True(await waiting);
        await writer.SendAsync("run", new { at = 1 });
        Assert.EndsWith("event: run\ndata: {\"at\":1}\n\n", Written());
    }

    static async Task Until(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "did not happen within 5 s");
            await Task.Delay(10);
        }
    }
}

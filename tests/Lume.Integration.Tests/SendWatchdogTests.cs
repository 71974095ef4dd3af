using Lume.Hosting;
using Lume.Testing;

namespace Lume.Integration.Tests;

/// <summary>When a service decides that its own sends are stuck, and how it asks the broker whether it takes messages.</summary>
[Collection("RabbitMQ")]
public sealed class SendWatchdogTests
{
    const long Limit = 60;

    [Theory]
    // now, oldest send under way, failing since, last sent, stuck?
    [InlineData(100, 30, 0, 30, true)] // a send under way for 70 s, nothing sent since
    [InlineData(100, 30, 0, 50, false)] // another send went out 50 s ago
    [InlineData(100, 50, 0, 30, false)] // the send under way is 50 s old
    [InlineData(100, 0, 30, 30, true)] // sends have failed for 70 s
    [InlineData(100, 0, 0, 30, false)] // quiet: nothing to send is not stuck
    [InlineData(100, 0, 45, 10, false)] // failing for 55 s only
    [InlineData(100, 40, 0, 0, true)] // exactly the limit
    public void LooksStuck_OnlyWhenSendsHangOrFailForTheLimit_WithNoneGoingOut(long now, long oldest, long failing, long sent, bool stuck) =>
        Assert.Equal(stuck, SendWatchdog.LooksStuck(now, oldest, failing, sent, Limit));

    [Fact]
    public async Task TheProbe_SaysABrokerTakesMessages_AndWhyAnAddressWithNoBrokerDoesNot()
    {
        await Broker.EnsureRunningAsync();
        var (vhost, url) = await Broker.NewVirtualHostAsync();
        try
        {
            Assert.Null(await SendWatchdog.BrokerTakesMessagesAsync(BrokerAddress.TryParse(url)!, CancellationToken.None));
        }
        finally
        {
            await Broker.DeleteVirtualHostAsync(vhost);
        }

        // A port nobody listens on (taken and let go again).
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var refused = await SendWatchdog.BrokerTakesMessagesAsync(BrokerAddress.TryParse($"amqp://guest:guest@127.0.0.1:{port}/")!, CancellationToken.None);
        Assert.NotNull(refused);
    }
}

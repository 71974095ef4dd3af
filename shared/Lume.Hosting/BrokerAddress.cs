namespace Lume.Hosting;

/// <summary>A RabbitMQ broker as given in <c>LUME_BROKER</c>: <c>amqp://user:password@host:port/vhost</c>.</summary>
public sealed record BrokerAddress(string Host, ushort Port, string VirtualHost, string Username, string Password, bool UseTls)
{
    /// <summary>What a valid address looks like, for error messages (which never repeat the configured value: it holds a password).</summary>
    public const string Expected = "LUME_BROKER must look like amqp://user:password@host:5672/vhost (amqps:// for TLS)";

    /// <summary>Reads an address; null when it is not one.</summary>
    public static BrokerAddress? TryParse(string? text)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme is not ("amqp" or "amqps") || string.IsNullOrEmpty(uri.Host))
            return null;
        var tls = uri.Scheme == "amqps";
        var user = uri.UserInfo.Split(':', 2);
        var path = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        return new BrokerAddress(
            uri.Host,
            (ushort)(uri.IsDefaultPort || uri.Port < 0 ? (tls ? 5671 : 5672) : uri.Port),
            path.Length == 0 ? "/" : path,
            user[0].Length == 0 ? "guest" : Uri.UnescapeDataString(user[0]),
            user.Length < 2 ? "guest" : Uri.UnescapeDataString(user[1]),
            tls);
    }

    /// <summary>
    /// A plain RabbitMQ client connection to this broker, for the few things MassTransit's bus does not do: asking a
    /// queue's depth, holding an exclusive queue as a lock. It does not recover by itself; its user decides what a lost
    /// connection means.
    /// </summary>
    public RabbitMQ.Client.ConnectionFactory ConnectionFactory(TimeSpan? heartbeat = null) => new()
    {
        HostName = Host,
        Port = Port,
        VirtualHost = VirtualHost,
        UserName = Username,
        Password = Password,
        Ssl = new RabbitMQ.Client.SslOption { Enabled = UseTls, ServerName = Host },
        AutomaticRecoveryEnabled = false,
        RequestedConnectionTimeout = TimeSpan.FromSeconds(5),
        RequestedHeartbeat = heartbeat ?? TimeSpan.FromSeconds(60),
    };

    /// <summary>Closes a plain client connection, if there is one; one the broker already dropped has nothing left to close.</summary>
    public static async ValueTask CloseQuietlyAsync(RabbitMQ.Client.IConnection? connection)
    {
        if (connection is null)
            return;
        try
        {
            await connection.DisposeAsync();
        }
        catch (Exception)
        {
            // Already closed by the broker or the network: nothing to do.
        }
    }

    /// <summary>The address without its password, fit for logs.</summary>
    public override string ToString() => $"{(UseTls ? "amqps" : "amqp")}://{Username}@{Host}:{Port}/{Uri.EscapeDataString(VirtualHost)}";
}

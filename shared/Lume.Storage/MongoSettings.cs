using System.Globalization;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using Lume.Hosting;
using Microsoft.Extensions.Configuration;
using MongoDB.Driver;

namespace Lume.Storage;

/// <summary>
/// A MongoDB database, configured as upstream does (<c>LUME_RESULTS_DB__HOST</c>, <c>__PORT</c>, <c>__USERNAME</c>,
/// <c>__PASSWORD</c>, <c>__DATABASE</c>) or with one <c>__CONNECTION_STRING</c>, and <c>__TIMEOUT_SECONDS</c>. The
/// password never leaves this type: <see cref="ToString"/> and every error it raises or explains name the server, the
/// database and the user only.
/// </summary>
public sealed class MongoSettings
{
    static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    // What Explain needs to know of a database that Open gave out: the driver's client keeps neither.
    static readonly ConditionalWeakTable<IMongoClient, Opened> OpenedClients = new();

    [ConfigurationKeyName("HOST")]
    public string? Host { get; set; }

    /// <summary>The port, 27017 when unset; kept as text so that a value that is no port is reported by its variable.</summary>
    [ConfigurationKeyName("PORT")]
    public string? Port { get; set; }

    [ConfigurationKeyName("USERNAME")]
    public string? Username { get; set; }

    [ConfigurationKeyName("PASSWORD")]
    public string? Password { get; set; }

    [ConfigurationKeyName("DATABASE")]
    public string Database { get; set; } = "lume";

    [ConfigurationKeyName("CONNECTION_STRING")]
    public string? ConnectionString { get; set; }

    /// <summary>How long to wait for a server to answer before an operation fails, 10 when unset; text for the same reason as <see cref="Port"/>.</summary>
    [ConfigurationKeyName("TIMEOUT_SECONDS")]
    public string? TimeoutSeconds { get; set; }

    /// <summary>Whether MongoDB is configured at all; otherwise the embedded SQLite store is used.</summary>
    public bool IsConfigured => !string.IsNullOrWhiteSpace(Host) || !string.IsNullOrWhiteSpace(ConnectionString);

    bool FromConnectionString => !string.IsNullOrWhiteSpace(ConnectionString);

    /// <summary>
    /// The database, from a new client. Settings that cannot work (a port that is no number, a URL in <c>__HOST</c>, a
    /// connection string that does not parse) are refused with a <see cref="StoreUnavailableException"/> naming the variable.
    /// </summary>
    public IMongoDatabase Open(string variablePrefix)
    {
        var client = ClientSettings(variablePrefix);
        if (!IsDatabaseName(Database))
            throw Misconfigured($"{variablePrefix}DATABASE is '{Database}', which MongoDB does not take as a database name " +
                "(1 to 63 bytes, none of / \\ . \" $ * < > : | ? and no spaces)");
        var mongo = new MongoClient(client);
        OpenedClients.AddOrUpdate(mongo, new Opened(variablePrefix, FromConnectionString));
        return mongo.GetDatabase(Database);
    }

    /// <summary>
    /// What to throw instead of <paramref name="exception"/> when it means that the database cannot be reached or refuses
    /// these settings (a server selection timeout, a lost connection, refused credentials, missing rights, unusable
    /// settings); null for every other exception. The message names the <c>LUME_*</c> variables to check and never the
    /// password; the driver's own text is left out, since it may quote the connection string.
    /// </summary>
    public static StoreUnavailableException? Explain(IMongoDatabase database, Exception exception)
    {
        if (exception is StoreUnavailableException known)
            return known;
        var causes = Causes(exception).ToArray();
        var client = database.Client;
        var opened = OpenedClients.TryGetValue(client, out var found) ? found : new Opened(null, false);
        var store = opened.StoreName;
        var servers = string.Join(", ", client.Settings.Servers.Select(s => $"{s.Host}:{s.Port}"));
        var user = client.Settings.Credential?.Username;
        var hosts = opened.Variables(fromConnectionString => fromConnectionString ? "the hosts in {0}CONNECTION_STRING" : "{0}HOST and {0}PORT");
        var credentials = opened.Variables(fromConnectionString => fromConnectionString ? "the user and password in {0}CONNECTION_STRING" : "{0}USERNAME and {0}PASSWORD");

        if (causes.Any(c => c is MongoAuthenticationException))
            return Misconfigured($"{store} at {servers} refused the user '{user}': check {credentials}");
        if (causes.OfType<MongoCommandException>().Any(c => c.Code == 13))
            return Misconfigured(user is null
                ? $"{store} at {servers} asks for a user: set {credentials}"
                : $"{store} at {servers} does not let the user '{user}' use database '{database.DatabaseNamespace.DatabaseName}': " +
                  $"give it the readWrite role there, or check {credentials} and {opened.Variables(_ => "{0}DATABASE")}");
        if (causes.Any(c => c is MongoIncompatibleDriverException))
            return Misconfigured($"{store} at {servers} runs a MongoDB version this driver does not support");
        if (causes.Any(c => c is MongoConfigurationException))
            return Misconfigured($"{store} at {servers} cannot be used with these settings: check {hosts}" +
                (opened.FromConnectionString ? "" : $", {credentials}"));
        if (causes.Any(c => c is TimeoutException))
            return new StoreUnavailableException(
                $"{store} at {servers} did not answer within {Seconds(client.Settings.ServerSelectionTimeout)}{Reason(client)}: check {hosts}",
                misconfigured: false);
        if (causes.Any(c => c is MongoConnectionException))
            return new StoreUnavailableException($"{store} at {servers} broke off the connection{Reason(client)}: check that it runs, and {hosts}", misconfigured: false);
        return null;
    }

    /// <summary>Runs an operation on the database, raising what <see cref="Explain"/> makes of its failure instead of the driver's exception.</summary>
    public static async Task<T> GuardAsync<T>(IMongoDatabase database, Func<Task<T>> operation)
    {
        try
        {
            return await operation();
        }
        catch (Exception e) when (Explain(database, e) is { } unavailable)
        {
            throw unavailable;
        }
    }

    /// <inheritdoc cref="GuardAsync{T}"/>
    public static Task GuardAsync(IMongoDatabase database, Func<Task> operation) => GuardAsync(database, async () =>
    {
        await operation();
        return true;
    });

    public override string ToString() => FromConnectionString
        ? $"MongoDB (connection string), database {Database}"
        : $"MongoDB at {Host}:{Port ?? "27017"}, database {Database}{(string.IsNullOrEmpty(Username) ? "" : $", user {Username}")}";

    MongoClientSettings ClientSettings(string variablePrefix)
    {
        MongoClientSettings client;
        if (FromConnectionString)
        {
            try
            {
                client = MongoClientSettings.FromConnectionString(ConnectionString);
            }
            catch (Exception e) when (e is MongoConfigurationException or ArgumentException or FormatException)
            {
                // The driver's message may quote the connection string, password and all.
                throw Misconfigured($"{variablePrefix}CONNECTION_STRING is not a valid MongoDB connection string");
            }
        }
        else
        {
            if (string.IsNullOrWhiteSpace(Host))
                throw Misconfigured($"neither {variablePrefix}HOST nor {variablePrefix}CONNECTION_STRING is set");
            if (Host.Contains("://", StringComparison.Ordinal))
                throw Misconfigured($"{variablePrefix}HOST holds a URL: give the host name alone there, or the whole URL in {variablePrefix}CONNECTION_STRING");
            if (Host.Any(char.IsWhiteSpace) || Host.Contains('/', StringComparison.Ordinal))
                throw Misconfigured($"{variablePrefix}HOST is '{Host}', which is no host name");
            var port = 27017;
            if (!string.IsNullOrWhiteSpace(Port)
                && !(int.TryParse(Port, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is >= 1 and <= 65535))
                throw Misconfigured($"{variablePrefix}PORT is '{Port}', which is no port number (1 to 65535)");
            client = new MongoClientSettings { Server = new MongoServerAddress(Host, port) };
            if (!string.IsNullOrEmpty(Username))
                client.Credential = MongoCredential.CreateCredential("admin", Username, Password ?? "");
        }

        var timeout = DefaultTimeout;
        if (!string.IsNullOrWhiteSpace(TimeoutSeconds))
        {
            if (!double.TryParse(TimeoutSeconds, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) || !(seconds is > 0 and <= 3600))
                throw Misconfigured($"{variablePrefix}TIMEOUT_SECONDS is '{TimeoutSeconds}', which is no number of seconds above 0 (at most 3600)");
            timeout = TimeSpan.FromSeconds(seconds);
        }

        client.ServerSelectionTimeout = timeout;
        return client;
    }

    static bool IsDatabaseName(string name) =>
        name.Length > 0 && Encoding.UTF8.GetByteCount(name) <= 63 && name.IndexOfAny(['/', '\\', '.', '"', '$', '*', '<', '>', ':', '|', '?', ' ', '\0']) < 0;

    static StoreUnavailableException Misconfigured(string message) => new(message, misconfigured: true);

    static IEnumerable<Exception> Causes(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            yield return e;
            if (e is AggregateException aggregate)
                foreach (var inner in aggregate.InnerExceptions.SelectMany(Causes))
                    yield return inner;
        }
    }

    // The socket error of the last heartbeat tells a wrong host ("Name or service not known") from a wrong port ("Connection refused").
    static string Reason(IMongoClient client)
    {
        var socket = client.Cluster.Description.Servers
            .Select(s => s.HeartbeatException is { } e ? Causes(e).OfType<SocketException>().FirstOrDefault() : null)
            .FirstOrDefault(s => s is not null);
        return socket is null ? "" : $" ({socket.Message})";
    }

    static string Seconds(TimeSpan time) => $"{time.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s";

    sealed record Opened(string? Prefix, bool FromConnectionString)
    {
        // LUME_RESULTS_DB__ names "the Results store's MongoDB".
        public string StoreName =>
            Prefix is { } p && p.StartsWith("LUME_", StringComparison.Ordinal) && p.EndsWith("_DB__", StringComparison.Ordinal) && p.Length > 10
                ? $"the {CultureInfo.InvariantCulture.TextInfo.ToTitleCase(p[5..^5].ToLowerInvariant())} store's MongoDB"
                : "MongoDB";

        public string Variables(Func<bool, string> format) => Prefix is null
            ? "the MongoDB settings"
            : string.Format(CultureInfo.InvariantCulture, format(FromConnectionString), Prefix);
    }
}

/// <summary>
/// A store's database cannot be used: its server did not answer, or it refused the settings. The message names the
/// <c>LUME_*</c> variables to check and never a password, so a host prints it as it is, without a stack trace.
/// </summary>
public sealed class StoreUnavailableException(string message, bool misconfigured) : LumeStartupException(message)
{
    /// <summary>Whether the settings are at fault (refused credentials or rights, values that cannot work) rather than a server that did not answer.</summary>
    public bool Misconfigured { get; } = misconfigured;
}

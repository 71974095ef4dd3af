using Microsoft.Extensions.Configuration;
using MongoDB.Driver;

namespace Lume.Hosting;

/// <summary>
/// A MongoDB database, configured as upstream does (<c>LUME_RESULTS_DB__HOST</c>, <c>__PORT</c>, <c>__USERNAME</c>,
/// <c>__PASSWORD</c>, <c>__DATABASE</c>) or with one <c>__CONNECTION_STRING</c>. The password never leaves this type:
/// <see cref="ToString"/> and every error it raises name the server, the database and the user only.
/// </summary>
public sealed class MongoSettings
{
    [ConfigurationKeyName("HOST")]
    public string? Host { get; set; }

    [ConfigurationKeyName("PORT")]
    public int Port { get; set; } = 27017;

    [ConfigurationKeyName("USERNAME")]
    public string? Username { get; set; }

    [ConfigurationKeyName("PASSWORD")]
    public string? Password { get; set; }

    [ConfigurationKeyName("DATABASE")]
    public string Database { get; set; } = "lume";

    [ConfigurationKeyName("CONNECTION_STRING")]
    public string? ConnectionString { get; set; }

    /// <summary>Whether MongoDB is configured at all; otherwise the embedded SQLite store is used.</summary>
    public bool IsConfigured => !string.IsNullOrWhiteSpace(Host) || !string.IsNullOrWhiteSpace(ConnectionString);

    /// <summary>The database, from a client that is made once per settings.</summary>
    public IMongoDatabase Open(string variablePrefix)
    {
        MongoClientSettings client;
        if (!string.IsNullOrWhiteSpace(ConnectionString))
        {
            try
            {
                client = MongoClientSettings.FromConnectionString(ConnectionString);
            }
            catch (Exception e) when (e is MongoConfigurationException or ArgumentException or FormatException)
            {
                // The driver's message may quote the connection string, password and all.
                throw new InvalidOperationException($"{variablePrefix}CONNECTION_STRING is not a valid MongoDB connection string");
            }
        }
        else
        {
            client = new MongoClientSettings { Server = new MongoServerAddress(Host, Port) };
            if (!string.IsNullOrEmpty(Username))
                client.Credential = MongoCredential.CreateCredential("admin", Username, Password ?? "");
        }

        client.ServerSelectionTimeout = TimeSpan.FromSeconds(10);
        return new MongoClient(client).GetDatabase(Database);
    }

    public override string ToString() => !string.IsNullOrWhiteSpace(ConnectionString)
        ? $"MongoDB (connection string), database {Database}"
        : $"MongoDB at {Host}:{Port}, database {Database}{(string.IsNullOrEmpty(Username) ? "" : $", user {Username}")}";
}

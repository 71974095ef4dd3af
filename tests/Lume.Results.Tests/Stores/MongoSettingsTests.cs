using System.Net;
using Lume.Storage;
using MongoDB.Bson;
using MongoDB.Driver;
using MongoDB.Driver.Core.Clusters;
using MongoDB.Driver.Core.Connections;
using MongoDB.Driver.Core.Servers;

namespace Lume.Results.Tests.Stores;

public class MongoSettingsTests
{
    const string Password = "s3cr3t-pw";

    [Fact]
    public void Description_NamesServerDatabaseAndUser_NeverThePassword()
    {
        var settings = new MongoSettings { Host = "db.internal", Port = "27018", Username = "lume", Password = Password, Database = "results" };

        var text = settings.ToString();

        Assert.Equal("MongoDB at db.internal:27018, database results, user lume", text);
        Assert.DoesNotContain(Password, text, StringComparison.Ordinal);
    }

    [Fact]
    public void AnInvalidConnectionString_IsRefused_WithoutQuotingIt()
    {
        var settings = new MongoSettings { ConnectionString = $"mongodb://lume:{Password}@host:notaport/db" };

        var error = Assert.Throws<StoreUnavailableException>(() => settings.Open("LUME_RESULTS_DB__"));

        Assert.True(error.Misconfigured);
        Assert.Contains("LUME_RESULTS_DB__CONNECTION_STRING", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(Password, settings.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("0")]
    [InlineData("65536")]
    [InlineData("-1")]
    [InlineData("27017.5")]
    public void APortThatIsNoPort_IsRefused_NamingItsVariable(string port)
    {
        var settings = new MongoSettings { Host = "localhost", Port = port };

        var error = Assert.Throws<StoreUnavailableException>(() => settings.Open("LUME_RESULTS_DB__"));

        Assert.True(error.Misconfigured);
        Assert.Equal($"LUME_RESULTS_DB__PORT is '{port}', which is no port number (1 to 65535)", error.Message);
    }

    [Fact]
    public void AUrlInTheHostVariable_IsRefused_WithoutQuotingIt()
    {
        var settings = new MongoSettings { Host = $"mongodb://lume:{Password}@localhost:27017" };

        var error = Assert.Throws<StoreUnavailableException>(() => settings.Open("LUME_SCHEDULER_DB__"));

        Assert.Contains("LUME_SCHEDULER_DB__HOST holds a URL", error.Message, StringComparison.Ordinal);
        Assert.Contains("LUME_SCHEDULER_DB__CONNECTION_STRING", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("TIMEOUT_SECONDS", "ten")]
    [InlineData("TIMEOUT_SECONDS", "0")]
    [InlineData("DATABASE", "my.db")]
    [InlineData("DATABASE", "")]
    public void OtherValuesThatCannotWork_AreRefused_NamingTheirVariable(string variable, string value)
    {
        var settings = new MongoSettings { Host = "localhost" };
        if (variable == "DATABASE")
            settings.Database = value;
        else
            settings.TimeoutSeconds = value;

        var error = Assert.Throws<StoreUnavailableException>(() => settings.Open("LUME_RESULTS_DB__"));

        Assert.StartsWith($"LUME_RESULTS_DB__{variable} is '{value}'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WithNeitherHostNorConnectionString_MongoIsNotConfigured() =>
        Assert.False(new MongoSettings { Username = "u", Password = "p" }.IsConfigured);

    [Fact]
    public void RefusedCredentials_AreExplainedByTheUserAndItsVariables_NeverThePassword()
    {
        var database = new MongoSettings { Host = "db.internal", Port = "27018", Username = "lume", Password = Password }.Open("LUME_RESULTS_DB__");

        var error = MongoSettings.Explain(database, new MongoConnectionException(Connection, "opening failed",
            new MongoAuthenticationException(Connection, $"Unable to authenticate using sasl protocol mechanism SCRAM-SHA-256 ({Password}).")));

        Assert.NotNull(error);
        Assert.True(error.Misconfigured);
        Assert.Equal("the Results store's MongoDB at db.internal:27018 refused the user 'lume': check LUME_RESULTS_DB__USERNAME and LUME_RESULTS_DB__PASSWORD", error.Message);
        Assert.DoesNotContain(Password, error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void RefusedCredentials_FromAConnectionString_PointToIt_NeverToThePassword()
    {
        var database = new MongoSettings { ConnectionString = $"mongodb://lume:{Password}@db.internal:27018/?authSource=admin" }.Open("LUME_SCHEDULER_DB__");

        var error = MongoSettings.Explain(database, new MongoAuthenticationException(Connection, "Unable to authenticate."));

        Assert.Equal("the Scheduler store's MongoDB at db.internal:27018 refused the user 'lume': check the user and password in LUME_SCHEDULER_DB__CONNECTION_STRING", error?.Message);
        Assert.DoesNotContain(Password, error!.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void MissingRights_AreExplainedAsMisconfigured_NamingUserAndDatabase()
    {
        var database = new MongoSettings { Host = "db.internal", Username = "lume", Password = Password, Database = "results" }.Open("LUME_RESULTS_DB__");
        var unauthorized = new MongoCommandException(Connection, "not authorized", new BsonDocument("find", "local"),
            new BsonDocument { ["ok"] = 0, ["code"] = 13, ["errmsg"] = "not authorized on results to execute command" });

        var error = MongoSettings.Explain(database, unauthorized);

        Assert.True(error?.Misconfigured);
        Assert.Contains("does not let the user 'lume' use database 'results'", error!.Message, StringComparison.Ordinal);
        Assert.Contains("LUME_RESULTS_DB__DATABASE", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OtherExceptions_AreNotExplained()
    {
        var database = new MongoSettings { Host = "db.internal" }.Open("LUME_RESULTS_DB__");

        Assert.Null(MongoSettings.Explain(database, new InvalidOperationException("something else")));
        Assert.Null(MongoSettings.Explain(database, new MongoCommandException(Connection, "bad", new BsonDocument(), new BsonDocument { ["code"] = 2 })));
    }

    static readonly ConnectionId Connection = new(new ServerId(new ClusterId(), new DnsEndPoint("db.internal", 27018)));
}

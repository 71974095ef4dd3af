using Lume.Hosting;

namespace Lume.Results.Tests.Stores;

public class MongoSettingsTests
{
    [Fact]
    public void Description_NamesServerDatabaseAndUser_NeverThePassword()
    {
        var settings = new MongoSettings { Host = "db.internal", Port = 27018, Username = "lume", Password = "s3cret-pw", Database = "results" };

        var text = settings.ToString();

        Assert.Equal("MongoDB at db.internal:27018, database results, user lume", text);
        Assert.DoesNotContain("s3cret-pw", text, StringComparison.Ordinal);
    }

    [Fact]
    public void AnInvalidConnectionString_IsRefused_WithoutQuotingIt()
    {
        var settings = new MongoSettings { ConnectionString = "mongodb://lume:s3cret-pw@host:notaport/db" };

        var error = Assert.Throws<InvalidOperationException>(() => settings.Open("LUME_RESULTS_DB__"));

        Assert.Contains("LUME_RESULTS_DB__CONNECTION_STRING", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret-pw", error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret-pw", settings.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void WithNeitherHostNorConnectionString_MongoIsNotConfigured() =>
        Assert.False(new MongoSettings { Username = "u", Password = "p" }.IsConfigured);
}

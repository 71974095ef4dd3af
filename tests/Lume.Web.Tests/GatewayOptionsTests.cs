using System.ComponentModel.DataAnnotations;
using Lume.Hosting;
using Microsoft.Extensions.Configuration;

namespace Lume.Web.Tests;

/// <summary>LUME_GATEWAY__* as the Gateway reads and checks them at start.</summary>
public sealed class GatewayOptionsTests
{
    static (GatewayOptions Options, string[] Problems) Read(params (string Key, string Value)[] settings)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(settings.ToDictionary(s => s.Key, s => (string?)s.Value))
            .Build();
        var options = LumeConfiguration.Read<GatewayOptions>(configuration.GetSection("GATEWAY"), "LUME_GATEWAY__");
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true);
        return (options, results.Select(r => r.ErrorMessage!).ToArray());
    }

    [Fact]
    public void Unset_ListensOnLoopback_WithoutAToken()
    {
        var (options, problems) = Read();

        Assert.Empty(problems);
        Assert.Equal("http://127.0.0.1:8080", options.Url);
        Assert.False(options.RequiresToken);
    }

    [Theory]
    [InlineData("GATEWAY:URL", "ftp://127.0.0.1:8080", "LUME_GATEWAY__URL")]
    [InlineData("GATEWAY:URL", "127.0.0.1:8080", "LUME_GATEWAY__URL")]
    [InlineData("GATEWAY:URL", "http://127.0.0.1:8080/api", "LUME_GATEWAY__URL")]
    [InlineData("GATEWAY:TOKEN", "   ", "LUME_GATEWAY__TOKEN")]
    [InlineData("GATEWAY:TOKEN", " secret ", "LUME_GATEWAY__TOKEN")]
    [InlineData("GATEWAY:REQUEST_TIMEOUT_SECONDS", "0", "LUME_GATEWAY__REQUEST_TIMEOUT_SECONDS")]
    [InlineData("GATEWAY:ACCEPT_TIMEOUT_SECONDS", "301", "LUME_GATEWAY__ACCEPT_TIMEOUT_SECONDS")]
    public void ABadSetting_IsReported_ByItsVariable(string key, string value, string variable)
    {
        var (_, problems) = Read((key, value));

        var problem = Assert.Single(problems);
        Assert.StartsWith(variable, problem, StringComparison.Ordinal);
    }

    [Fact]
    public void ABadToken_IsReported_WithoutTheTokenItself()
    {
        var (_, problems) = Read(("GATEWAY:TOKEN", " my-secret-value "));

        Assert.DoesNotContain("my-secret-value", Assert.Single(problems), StringComparison.Ordinal);
    }
}

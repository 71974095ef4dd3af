using System.Text.Json;

namespace Lume.Cli.Tests;

public sealed class RunParametersTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("lume-tests-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    string WriteFile(string content)
    {
        var path = Path.Combine(_dir, "params.json");
        File.WriteAllText(path, content);
        return path;
    }

    [Fact]
    public void EqualsPassesAString_ColonEqualsRawJson()
    {
        var (parameters, problems) = RunParameters.Parse(["text=42", "number:=42", "list:=[1, \"a\"]", "empty=", "eq=a=b"], null);

        Assert.Empty(problems);
        Assert.Equal("42", parameters["text"].GetString());
        Assert.Equal(42, parameters["number"].GetInt32());
        Assert.Equal(2, parameters["list"].GetArrayLength());
        Assert.Equal("", parameters["empty"].GetString());
        Assert.Equal("a=b", parameters["eq"].GetString());
    }

    [Fact]
    public void EveryBadPair_IsReported()
    {
        var (_, problems) = RunParameters.Parse(["novalue", "=x", "bad:={nope", "dup=1", "dup=2"], null);

        Assert.Equal(4, problems.Count);
        Assert.Contains(problems, p => p.StartsWith("-p 'novalue'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("-p '=x'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("parameter 'bad': the value is not JSON", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("parameter 'dup': given more than once", StringComparison.Ordinal));
    }

    [Fact]
    public void ParamsFile_IsReadAndPOverridesIt()
    {
        var file = WriteFile("""{"a": 1, "b": {"c": [true]}}""");

        var (parameters, problems) = RunParameters.Parse(["a=one"], file);

        Assert.Empty(problems);
        Assert.Equal("one", parameters["a"].GetString());
        Assert.Equal(JsonValueKind.Array, parameters["b"].GetProperty("c").ValueKind);
    }

    [Theory]
    [InlineData("[1, 2]", "expected a JSON object")]
    [InlineData("{broken", "not JSON")]
    public void ParamsFile_ThatIsNotAJsonObject_IsReported(string content, string expected)
    {
        var file = WriteFile(content);

        var (_, problems) = RunParameters.Parse([], file);

        Assert.Contains(expected, Assert.Single(problems), StringComparison.Ordinal);
        Assert.Contains(file, problems[0], StringComparison.Ordinal);
    }

    [Fact]
    public void MissingParamsFile_IsReported() =>
        Assert.Contains("no such file", Assert.Single(RunParameters.Parse([], Path.Combine(_dir, "absent.json")).Problems), StringComparison.Ordinal);
}

using System.Text.Json;
using Lume.Results.Model;

namespace Lume.Results.Tests.Model;

/// <summary>Against digests that Python's json.dumps and hashlib.md5 computed (Fixtures/make_hash_fixtures.py).</summary>
public class ResultHashTests
{
    public static TheoryData<string> Fixtures()
    {
        var data = new TheoryData<string>();
        foreach (var fixture in Load())
            data.Add(fixture.GetProperty("name").GetString()!);
        return data;
    }

    static IEnumerable<JsonElement> Load() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "hash_fixtures.json"))).RootElement.EnumerateArray();

    static JsonElement Fixture(string name) => Load().Single(f => f.GetProperty("name").GetString() == name);

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void HashedText_IsWhatPythonsJsonDumpsWrites(string name)
    {
        var fixture = Fixture(name);

        var text = ResultHash.HashedText(fixture.GetProperty("inputs"), fixture.GetProperty("outputs"), fixture.GetProperty("flow_id").GetString()!);

        Assert.Equal(fixture.GetProperty("json").GetString(), text);
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void UniqueHash_MatchesPythons(string name)
    {
        var fixture = Fixture(name);

        var hash = ResultHash.Compute(fixture.GetProperty("inputs"), fixture.GetProperty("outputs"), fixture.GetProperty("flow_id").GetString()!);

        Assert.Equal(fixture.GetProperty("unique_hash").GetString(), hash);
    }

    [Theory]
    [InlineData(1.0, "1.0")]
    [InlineData(0.1, "0.1")]
    [InlineData(1e-7, "1e-07")]
    [InlineData(1e22, "1e+22")]
    [InlineData(-2.5, "-2.5")]
    [InlineData(1e16, "1e+16")]
    [InlineData(1234567890123456.0, "1234567890123456.0")]
    [InlineData(0.0001, "0.0001")]
    [InlineData(0.00001, "1e-05")]
    [InlineData(-0.0, "-0.0")]
    [InlineData(1.5e300, "1.5e+300")]
    public void FloatRepr_IsPythons(double value, string expected) => Assert.Equal(expected, PythonJson.FloatRepr(value));

    [Theory]
    [InlineData("{}", """{"o": 1}""", "f", "inputs is empty")]
    [InlineData("""{"i": 1}""", "{}", "f", "outputs is empty")]
    [InlineData("""{"i": 1}""", """{"o": 1}""", "", "flow_id is empty")]
    public void UniqueHash_OfAnEmptyField_IsAnError(string inputs, string outputs, string flowId, string expected)
    {
        var error = Assert.Throws<ResultException>(() =>
            ResultHash.Compute(JsonDocument.Parse(inputs).RootElement, JsonDocument.Parse(outputs).RootElement, flowId));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }
}

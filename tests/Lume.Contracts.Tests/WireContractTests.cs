using System.Text.Json;
using Lume.Testing;
using Lume.WireSchemas;
using MassTransit.Serialization;

namespace Lume.Contracts.Tests;

/// <summary>What other systems rely on: the committed schemas say what travels, and enums travel by name.</summary>
public sealed class WireContractTests
{
    static readonly string Docs = Path.Combine(Broker.RepositoryRoot, "docs");

    [Fact]
    public void TheCommittedSchemasAndAsyncApiDocument_AreWhatTheRecordsGenerate()
    {
        var generated = WireDocuments.Generate();
        var stale = new List<string>();
        foreach (var (path, text) in generated)
        {
            var file = Path.Combine(Docs, path);
            if (!File.Exists(file) || File.ReadAllText(file).ReplaceLineEndings("\n") != text)
                stale.Add(path);
        }

        stale.AddRange(Directory.EnumerateFiles(Path.Combine(Docs, "schemas"))
            .Select(f => Path.GetRelativePath(Docs, f))
            .Where(path => !generated.ContainsKey(path)));
        Assert.True(stale.Count == 0,
            $"docs/ differs from what Lume.Contracts generates in: {string.Join(", ", stale)}. " +
            "Run `dotnet run --project tools/Lume.WireSchemas`, review the change (a client may depend on it) and commit it.");
    }

    [Fact]
    public void EveryPublicMessage_HasASchema_ThatNamesItsFieldsAsTheyTravel()
    {
        var generated = WireDocuments.Generate();
        foreach (var message in WireDocuments.Messages)
        {
            using var schema = JsonDocument.Parse(generated[Path.Combine("schemas", $"{message.Type.Name}.json")]);
            var properties = schema.RootElement.GetProperty("properties").EnumerateObject().Select(p => p.Name).ToArray();
            var expected = message.Type.GetConstructors().Single().GetParameters()
                .Select(p => JsonNamingPolicy.CamelCase.ConvertName(p.Name!)).ToArray();
            Assert.Equal(expected, properties);
        }
    }

    [Fact]
    public void Enums_TravelAsTheirDocumentedNames_AndANumberIsRefused()
    {
        var failed = new RunFailed(Guid.NewGuid(), "flow1", RunFailureKind.TaskFailed, "append_text", "FlowFailed", "boom", [], DateTimeOffset.UtcNow);
        var json = JsonSerializer.SerializeToElement(failed, SystemTextJsonMessageSerializer.Options);
        Assert.Equal("task_failed", json.GetProperty("kind").GetString());

        var attempt = new AttemptSnapshot(1, AttemptOutcome.TimedOut, null, null, null, null, null);
        Assert.Equal("timed_out", JsonSerializer.SerializeToElement(attempt, SystemTextJsonMessageSerializer.Options).GetProperty("outcome").GetString());
        Assert.Equal(TaskState.TriggerFailed, JsonSerializer.Deserialize<TaskState>("\"trigger_failed\"", SystemTextJsonMessageSerializer.Options));
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<RunState>("1", SystemTextJsonMessageSerializer.Options));

        // Each name the schemas list is one the wire really carries, for every member.
        foreach (var state in Enum.GetValues<TaskState>())
            Assert.Equal($"\"{WireEnumConverter<TaskState>.Name(state)}\"", JsonSerializer.Serialize(state, SystemTextJsonMessageSerializer.Options));
    }
}

using System.Collections;
using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Lume.Flows;

// A Scheduler holds every registered flow's definition, and a 100,000-task flow read with the serializer's defaults
// cost about 800 bytes a task: a Dictionary per task's arguments, a List per task's upstream list (empty, as a rule),
// and a string per occurrence of a task type or argument name that every task repeats. These converters read the
// same JSON into less; they write what they read unchanged.

/// <summary>
/// Names that many objects repeat (task types, argument names, worker names), kept as one shared string each: 100,000
/// tasks that each hold their own copy of <c>"identity"</c> hold 4 MB of it.
/// </summary>
public static class SharedNames
{
    // Bounded, as names come from definitions and workers that come and go: past the bound a name is simply not shared.
    const int MostNames = 10_000;
    static readonly ConcurrentDictionary<string, string> Names = new(StringComparer.Ordinal);

    /// <summary>The one shared copy of <paramref name="name"/> (or the name itself, once the pool is full).</summary>
    public static string Share(string name) => Names.Count >= MostNames ? name : Names.GetOrAdd(name, name);
}

/// <summary>Names that repeat across a flow's tasks read as one shared string each (see <see cref="SharedNames"/>).</summary>
public sealed class SharedNameJsonConverter : JsonConverter<string>
{
    public override string Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.String
            ? SharedNames.Share(reader.GetString()!)
            : throw new JsonException($"expected a string, not {reader.TokenType}");

    public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);
}

/// <summary>A list of slugs read as an array; an empty one is the one shared empty array.</summary>
public sealed class SlugListJsonConverter : JsonConverter<IReadOnlyList<string>>
{
    public override IReadOnlyList<string> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
            throw new JsonException($"expected a list of task slugs, not {reader.TokenType}");
        List<string>? slugs = null;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            (slugs ??= []).Add(reader.TokenType == JsonTokenType.String ? reader.GetString()! : throw new JsonException($"expected a task slug, not {reader.TokenType}"));
        return slugs is null ? [] : slugs.ToArray();
    }

    public override void Write(Utf8JsonWriter writer, IReadOnlyList<string> value, JsonSerializerOptions options)
    {
        writer.WriteStartArray();
        foreach (var slug in value)
            writer.WriteStringValue(slug);
        writer.WriteEndArray();
    }
}

/// <summary>A task's arguments read into an <see cref="ArgumentMap{TValue}"/>; for a duplicate name, the last one counts, as in a dictionary.</summary>
public sealed class TaskInputsJsonConverter : JsonConverter<IReadOnlyDictionary<string, TaskInput>>
{
    public override IReadOnlyDictionary<string, TaskInput> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new JsonException($"expected an object of arguments, not {reader.TokenType}");
        var names = new List<string>();
        var inputs = new List<TaskInput>();
        Dictionary<string, int>? seen = null; // past a few arguments, found by name rather than by a scan
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            var name = SharedNames.Share(reader.GetString()!);
            reader.Read();
            var input = JsonSerializer.Deserialize<TaskInput>(ref reader, options) ?? throw new JsonException($"argument '{name}' is null; give where its value comes from");
            if (names.Count == ArgumentMap<TaskInput>.Scanned && seen is null)
                seen = names.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i, StringComparer.Ordinal);
            var at = seen is null ? names.IndexOf(name) : seen.GetValueOrDefault(name, -1);
            if (at >= 0)
            {
                inputs[at] = input;
                continue;
            }

            seen?.Add(name, names.Count);
            names.Add(name);
            inputs.Add(input);
        }

        return new ArgumentMap<TaskInput>([.. names], [.. inputs]);
    }

    public override void Write(Utf8JsonWriter writer, IReadOnlyDictionary<string, TaskInput> value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        foreach (var (name, input) in value)
        {
            writer.WritePropertyName(name);
            JsonSerializer.Serialize(writer, input, options);
        }

        writer.WriteEndObject();
    }
}

/// <summary>
/// A task's arguments (where each comes from, or their values) as two arrays, in the order they were written: a few
/// words per task where a dictionary took hundreds of bytes. A lookup scans a small map, and indexes a big one (a
/// fan-in of thousands) once, when first asked. The values of a task's arguments share the names of its definition's.
/// </summary>
public sealed class ArgumentMap<TValue> : IReadOnlyDictionary<string, TValue>
{
    /// <summary>Up to this many arguments, a lookup scans.</summary>
    internal const int Scanned = 8;

    readonly string[] _names;
    readonly TValue[] _values;
    Dictionary<string, int>? _index;

    /// <param name="names">The arguments' names, each once.</param>
    internal ArgumentMap(string[] names, TValue[] values)
    {
        _names = names;
        _values = values;
    }

    /// <summary>The names, in order, to share with a map of the same arguments.</summary>
    internal string[] Names => _names;

    public int Count => _names.Length;

    public TValue this[string key] => TryGetValue(key, out var value) ? value : throw new KeyNotFoundException($"no argument '{key}'");

    public IEnumerable<string> Keys => _names;

    public IEnumerable<TValue> Values => _values;

    public bool ContainsKey(string key) => IndexOf(key) >= 0;

    public bool TryGetValue(string key, [MaybeNullWhen(false)] out TValue value)
    {
        var at = IndexOf(key);
        value = at >= 0 ? _values[at] : default;
        return at >= 0;
    }

    int IndexOf(string key)
    {
        if (_names.Length <= Scanned)
            return Array.IndexOf(_names, key);
        if (_index is null)
        {
            var index = new Dictionary<string, int>(_names.Length, StringComparer.Ordinal);
            for (var i = 0; i < _names.Length; i++)
                index[_names[i]] = i;
            _index = index;
        }

        return _index.GetValueOrDefault(key, -1);
    }

    public IEnumerator<KeyValuePair<string, TValue>> GetEnumerator()
    {
        for (var i = 0; i < _names.Length; i++)
            yield return new(_names[i], _values[i]);
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

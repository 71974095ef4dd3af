using System.Buffers;
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
/// Names that many objects repeat (task types, worker names), kept as one shared string each: 100,000
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

/// <summary>
/// What <see cref="FlowJson"/> shares among the parts of a definition while it reads it.
/// <list type="bullet">
/// <item>Names: a task's slug comes back in every argument, upstream list and branch condition that names it, and a
/// fan-in of 100,000 tasks held two more copies of each upstream slug (its argument's name and the output's task),
/// about 9 MB. Each is read as one string. Only within a read: a pool shared by every definition would keep the names
/// of flows long gone.</item>
/// <item>Constants: each constant argument read alone was a JSON document of its own (about 175 bytes for a number).
/// A definition's constants are read into one document instead, about 30 bytes each.</item>
/// </list>
/// </summary>
sealed class DefinitionReading
{
    // Set for the length of one read (see Begin); flows with the read into the serializer's async continuations.
    static readonly AsyncLocal<DefinitionReading?> Current = new();

    // Longer names are read as they are: the lookup decodes a name on the stack first.
    const int MostChars = 256;

    readonly Dictionary<string, string> _names = new(StringComparer.Ordinal);
    readonly ArrayBufferWriter<byte> _constants = new();
    readonly List<ConstantInput> _constantInputs = [];
    Utf8JsonWriter? _writer;
    int _constantsRead;

    /// <summary>Shares what is read until the returned scope is disposed; call <see cref="EndDefinition"/> after each definition.</summary>
    public static Scope Begin()
    {
        var outer = Current.Value;
        Current.Value = new DefinitionReading();
        return new Scope(outer);
    }

    public readonly struct Scope(DefinitionReading? outer) : IDisposable
    {
        public void Dispose() => Current.Value = outer;
    }

    /// <summary>The name at the reader (a string or a property name): the copy read before, if any.</summary>
    public static string ReadName(ref Utf8JsonReader reader)
    {
        var names = Current.Value?._names;
        var bytes = reader.HasValueSequence ? reader.ValueSequence.Length : reader.ValueSpan.Length;
        if (names is null || bytes > MostChars)
            return reader.GetString()!;
        Span<char> chars = stackalloc char[MostChars];
        var name = chars[..reader.CopyString(chars)];
        var lookup = names.GetAlternateLookup<ReadOnlySpan<char>>();
        if (lookup.TryGetValue(name, out var known))
            return known;
        var read = name.ToString();
        names.Add(read, read);
        return read;
    }

    /// <summary>
    /// Reads a constant's value: outside a read of a definition, as a document of its own; inside one, into the
    /// definition's constants, to be given to the <see cref="ConstantInput"/> that holds it when it is made
    /// (<see cref="Claim"/>) and filled in at the definition's end.
    /// </summary>
    public static JsonElement ReadConstant(ref Utf8JsonReader reader)
    {
        if (Current.Value is not { } reading)
            return JsonElement.ParseValue(ref reader);
        var writer = reading._writer ??= new Utf8JsonWriter(reading._constants);
        if (reading._constantsRead++ == 0)
            writer.WriteStartArray();
        using (var value = JsonDocument.ParseValue(ref reader))
            value.RootElement.WriteTo(writer);
        return default;
    }

    /// <summary>Takes the constant input just made for the value <see cref="ReadConstant"/> read last.</summary>
    public static void Claim(ConstantInput input)
    {
        if (Current.Value is { } reading && reading._constantInputs.Count < reading._constantsRead)
            reading._constantInputs.Add(input);
    }

    /// <summary>Fills in the constants of the definition just read, from one document of them all.</summary>
    public static void EndDefinition()
    {
        if (Current.Value is not { _constantsRead: > 0 } reading)
            return;
        if (reading._constantInputs.Count != reading._constantsRead)
            throw new JsonException($"read {reading._constantsRead} constants, but {reading._constantInputs.Count} constant inputs took them");
        reading._writer!.WriteEndArray();
        reading._writer.Flush();
        var json = new Utf8JsonReader(reading._constants.WrittenSpan);
        var all = JsonElement.ParseValue(ref json); // a copy of exactly the bytes it needs
        var i = 0;
        foreach (var value in all.EnumerateArray())
            reading._constantInputs[i++].Fill(value);
        reading._constants.Clear();
        reading._writer.Reset();
        reading._constantInputs.Clear();
        reading._constantsRead = 0;
    }
}

/// <summary>A constant argument's value (see <see cref="DefinitionReading"/>).</summary>
public sealed class ConstantJsonConverter : JsonConverter<JsonElement>
{
    public override JsonElement Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        DefinitionReading.ReadConstant(ref reader);

    public override void Write(Utf8JsonWriter writer, JsonElement value, JsonSerializerOptions options) => value.WriteTo(writer);
}

/// <summary>A task slug, read as the copy its definition already holds (see <see cref="DefinitionReading"/>).</summary>
public sealed class SlugJsonConverter : JsonConverter<string>
{
    public override string Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.String
            ? DefinitionReading.ReadName(ref reader)
            : throw new JsonException($"expected a task slug, not {reader.TokenType}");

    public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);
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
            (slugs ??= []).Add(reader.TokenType == JsonTokenType.String ? DefinitionReading.ReadName(ref reader) : throw new JsonException($"expected a task slug, not {reader.TokenType}"));
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
            var name = DefinitionReading.ReadName(ref reader);
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

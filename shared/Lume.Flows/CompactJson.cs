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
        // A number, true, false or null is copied as it is; a string or a list or object goes through a document.
        if (reader.TokenType is JsonTokenType.Number or JsonTokenType.True or JsonTokenType.False or JsonTokenType.Null && !reader.HasValueSequence)
            writer.WriteRawValue(reader.ValueSpan, skipInputValidation: true);
        else
        {
            using var value = JsonDocument.ParseValue(ref reader);
            value.RootElement.WriteTo(writer);
        }

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
        // Gathered in lists this thread keeps (a task's arguments hold no task), then copied to arrays of the right size.
        var names = _names ??= [];
        var inputs = _inputs ??= [];
        names.Clear();
        inputs.Clear();
        Dictionary<string, int>? seen = null; // past a few arguments, found by name rather than by a scan
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            var name = DefinitionReading.ReadName(ref reader);
            reader.Read();
            var input = ReadInput(ref reader, name);
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

        // Tasks of one kind name the same arguments: one array of names for them all, as long as they come in a row.
        var shared = _lastNames is { } last && last.AsSpan().SequenceEqual(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(names)) ? last : [.. names];
        _lastNames = shared;
        var map = new ArgumentMap<TaskInput>(shared, [.. inputs]);
        names.Clear();
        inputs.Clear();
        return map;
    }

    [ThreadStatic]
    static List<string>? _names;

    [ThreadStatic]
    static List<TaskInput>? _inputs;

    [ThreadStatic]
    static string[]? _lastNames;

    public override void Write(Utf8JsonWriter writer, IReadOnlyDictionary<string, TaskInput> value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        if (value is ArgumentMap<TaskInput> map)
        {
            for (var i = 0; i < map.Count; i++)
                WriteInput(writer, map.Names[i], map.ValueAt(i));
        }
        else
        {
            foreach (var (name, input) in value)
                WriteInput(writer, name, input);
        }

        writer.WriteEndObject();
    }

    // Each argument is read and written here, not by a nested call of the serializer: that call costs a stack of its own
    // each time, and for the 100,000 arguments of a big flow it made 60 MB of garbage every time the flow was written
    // (registered, stored with a run) and more when it was read. The JSON is the same as the serializer's for TaskInput:
    // "from" first, then the kind's members in their declared order.
    static readonly JsonEncodedText From = JsonEncodedText.Encode("from");
    static readonly JsonEncodedText Parameter = JsonEncodedText.Encode("parameter");
    static readonly JsonEncodedText Task = JsonEncodedText.Encode("task");
    static readonly JsonEncodedText Path = JsonEncodedText.Encode("path");
    static readonly JsonEncodedText Value = JsonEncodedText.Encode("value");

    static void WriteInput(Utf8JsonWriter writer, string name, TaskInput input)
    {
        writer.WritePropertyName(name);
        writer.WriteStartObject();
        switch (input)
        {
            case ParameterInput parameter:
                writer.WriteString(From, Parameter);
                writer.WriteString(Parameter, parameter.Parameter);
                break;
            case TaskOutput output:
                writer.WriteString(From, Task);
                writer.WriteString(Task, output.Task);
                if (output.Path is { } path)
                {
                    writer.WriteStartArray(Path);
                    foreach (var step in path)
                        writer.WriteStringValue(step);
                    writer.WriteEndArray();
                }

                break;
            case ConstantInput constant:
                writer.WriteString(From, Value);
                writer.WritePropertyName(Value);
                constant.Value.WriteTo(writer);
                break;
            default:
                throw new JsonException($"argument '{name}': {input.GetType().Name} cannot be written as JSON");
        }

        writer.WriteEndObject();
    }

    static TaskInput ReadInput(ref Utf8JsonReader reader, string name)
    {
        if (reader.TokenType == JsonTokenType.Null)
            throw new JsonException($"argument '{name}' is null; give where its value comes from");
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new JsonException($"argument '{name}' must be an object with \"from\" (parameter, task or value), not {reader.TokenType}");
        JsonEncodedText? from = null;
        string? parameter = null, task = null;
        string[]? path = null;
        JsonElement? value = null;
        var pooled = false;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            var member = reader.ValueTextEquals(From.EncodedUtf8Bytes) ? From
                : reader.ValueTextEquals(Parameter.EncodedUtf8Bytes) ? Parameter
                : reader.ValueTextEquals(Task.EncodedUtf8Bytes) ? Task
                : reader.ValueTextEquals(Path.EncodedUtf8Bytes) ? Path
                : reader.ValueTextEquals(Value.EncodedUtf8Bytes) ? Value
                : default;
            reader.Read();
            if (member.Equals(From))
            {
                from = reader.TokenType != JsonTokenType.String ? throw new JsonException($"argument '{name}': \"from\" must be a string, not {reader.TokenType}")
                    : reader.ValueTextEquals(Parameter.EncodedUtf8Bytes) ? Parameter
                    : reader.ValueTextEquals(Task.EncodedUtf8Bytes) ? Task
                    : reader.ValueTextEquals(Value.EncodedUtf8Bytes) ? Value
                    : throw new JsonException($"argument '{name}' has \"from\": \"{reader.GetString()}\"; it must be parameter, task or value");
            }
            else if (member.Equals(Parameter))
                parameter = String(ref reader, name, "parameter");
            else if (member.Equals(Task))
                task = reader.TokenType == JsonTokenType.String ? DefinitionReading.ReadName(ref reader) : String(ref reader, name, "task");
            else if (member.Equals(Path))
                path = PathOf(ref reader, name);
            else if (member.Equals(Value))
            {
                // Into the definition's constants only when it is known to be a constant's value (see DefinitionReading).
                pooled = from is { } kind && kind.Equals(Value);
                value = pooled ? DefinitionReading.ReadConstant(ref reader) : JsonElement.ParseValue(ref reader);
            }
            else
                reader.Skip(); // a member this version does not know is passed over, as the serializer did
        }

        if (from is null)
            throw new JsonException($"argument '{name}' has no \"from\": say where its value comes from (parameter, task or value)");
        if (from.Value.Equals(Parameter))
            return new ParameterInput(parameter ?? throw Missing(name, "a parameter", "parameter"));
        if (from.Value.Equals(Task))
            return new TaskOutput(task ?? throw Missing(name, "a task", "task"), path);
        var constant = new ConstantInput(value ?? throw Missing(name, "a constant", "value"));
        if (pooled)
            DefinitionReading.Claim(constant);
        return constant;

        static string String(ref Utf8JsonReader reader, string name, string member) =>
            reader.TokenType == JsonTokenType.String ? reader.GetString()! : throw new JsonException($"argument '{name}': \"{member}\" must be a string, not {reader.TokenType}");

        static string[]? PathOf(ref Utf8JsonReader reader, string name)
        {
            if (reader.TokenType == JsonTokenType.Null)
                return null;
            if (reader.TokenType != JsonTokenType.StartArray)
                throw new JsonException($"argument '{name}': \"path\" must be a list of keys, not {reader.TokenType}");
            var steps = new List<string>();
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                steps.Add(String(ref reader, name, "path"));
            return [.. steps];
        }

        static JsonException Missing(string name, string from, string member) =>
            new($"argument '{name}' comes from {from} but has no \"{member}\"");
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

    /// <summary>The value of the <paramref name="index"/>-th argument, in the order of <see cref="Names"/>.</summary>
    internal TValue ValueAt(int index) => _values[index];

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

using Lume.Flows;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Lume.Results.Model;

/// <summary>
/// What valid JSON must be besides to be stored, found and hashed unchanged by both result stores: every problem is
/// reported with the path of the value at fault (<c>outputs.x</c>, <c>inputs.points[3]</c>).
/// </summary>
public static class StorableJson
{
    /// <summary>
    /// How deep objects and arrays may nest, the result document itself counting as the first level. Well below what
    /// the bus carries (System.Text.Json's 64 levels, less MassTransit's envelope), so a deeper result is refused by name.
    /// </summary>
    public const int MaxDepth = 32;

    /// <summary>The longest project name, in UTF-8 bytes: with any database name it stays within MongoDB's namespace limit.</summary>
    public const int MaxCollectionBytes = 120;

    const int MaxProblems = 5;

    /// <summary>
    /// Adds to <paramref name="problems"/> what in <paramref name="value"/> cannot be stored unchanged, up to five;
    /// <paramref name="depth"/> is the level a container at <paramref name="path"/> is at.
    /// </summary>
    public static void Check(JsonElement value, string path, int depth, List<string> problems)
    {
        if (problems.Count >= MaxProblems)
            return;
        switch (value.ValueKind)
        {
            case JsonValueKind.Object or JsonValueKind.Array when depth > MaxDepth:
                problems.Add($"{Name(path)}: nested more than {MaxDepth} levels deep");
                break;
            case JsonValueKind.Object:
                var keys = new HashSet<string>(StringComparer.Ordinal);
                foreach (var property in value.EnumerateObject())
                {
                    if (!TryGetName(property, out var key))
                    {
                        problems.Add($"{Name(Step(path, key))}: the key holds an unpaired UTF-16 surrogate, which cannot be stored as text");
                        continue;
                    }

                    var at = Step(path, key);
                    if (!keys.Add(key))
                        problems.Add($"{Name(at)}: the key appears more than once in its object");
                    else if (KeyProblem(key) is { } problem)
                        problems.Add($"{Name(at)}: {problem}");
                    else
                        Check(property.Value, at, depth + 1, problems);
                    if (problems.Count >= MaxProblems)
                        return;
                }

                break;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in value.EnumerateArray())
                    Check(item, $"{path}[{index++}]", depth + 1, problems);
                break;
            case JsonValueKind.String when !JsonLimits.IsText(value):
                problems.Add($"{Name(path)}: the string holds an unpaired UTF-16 surrogate, which cannot be stored as text");
                break;
            case JsonValueKind.Number when NumberProblem(value.GetRawText()) is { } problem:
                problems.Add($"{Name(path)}: {problem}");
                break;
        }
    }

    /// <summary>Why a key in a result cannot be stored as it is, or null.</summary>
    public static string? KeyProblem(string key)
    {
        if (key.Contains('\0', StringComparison.Ordinal))
            return "the key holds a NUL character, which MongoDB cannot keep in a key";
        if (key.StartsWith('$'))
            return "a key may not start with '$': MongoDB would take it for an operator or a typed value such as {\"$date\": ...}";
        if (key.Contains('.', StringComparison.Ordinal))
            return "a key may not hold '.': queries read '.' as a step into a nested field";
        return null;
    }

    /// <summary>Why a field name of a query (a dotted path such as <c>inputs.x</c>) cannot be looked for, or null.</summary>
    public static string? QueryFieldProblem(string field)
    {
        if (field.Split('.').Any(step => step.Length == 0))
            return "every step of a field path needs a name";
        if (field.Split('.').Any(step => step.StartsWith('$')))
            return "a field may not start with '$': MongoDB would take it for an operator";
        return field.Contains('\0', StringComparison.Ordinal) ? "the field holds a NUL character" : null;
    }

    /// <summary>Why a project name cannot name a collection in both stores, or null.</summary>
    public static string? CollectionProblem(string name)
    {
        if (name.Length == 0)
            return "it is empty";
        if (name.Contains('$', StringComparison.Ordinal) || name.Contains('\0', StringComparison.Ordinal))
            return "it may not hold '$' or a NUL character";
        if (name.StartsWith("system.", StringComparison.Ordinal))
            return "it may not start with 'system.', which MongoDB keeps for itself";
        if (!JsonLimits.IsText(name))
            return "it holds an unpaired UTF-16 surrogate";
        return Encoding.UTF8.GetByteCount(name) > MaxCollectionBytes ? $"it is longer than {MaxCollectionBytes} bytes (UTF-8)" : null;
    }

    /// <summary>The key's name; false, with its text as written (escapes and all), when it is no valid UTF-16.</summary>
    public static bool TryGetName(JsonProperty property, out string name)
    {
        try
        {
            name = property.Name;
            return true;
        }
        catch (InvalidOperationException)
        {
            name = Encoding.UTF8.GetString(JsonMarshal.GetRawUtf8PropertyName(property));
            return false;
        }
    }

    // The document itself has no path.
    static string Name(string path) => path.Length == 0 ? "the result" : path;

    static string Step(string path, string key) => path.Length == 0 ? key : $"{path}.{key}";

    // Integers beyond 64 bits are refused as pymongo refuses them upstream; MongoDB has no wider integer, and a double would round them.
    static string? NumberProblem(string raw)
    {
        if (raw.AsSpan().IndexOfAny('.', 'e', 'E') < 0)
            return long.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _)
                ? null
                : $"the integer {Shorten(raw)} does not fit in 64 bits, the most MongoDB keeps";
        return double.IsFinite(double.Parse(raw, NumberStyles.Float, CultureInfo.InvariantCulture))
            ? null
            : $"the number {Shorten(raw)} is beyond the range of a double (about ±1.8e308)";
    }

    static string Shorten(string text) => text.Length <= 40 ? text : text[..37] + "...";
}

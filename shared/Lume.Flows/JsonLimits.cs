using System.Runtime.InteropServices;
using System.Text.Json;

namespace Lume.Flows;

/// <summary>
/// What JSON Lume carries between services (parameters, results): at most <see cref="MaxDepth"/> levels deep, so it
/// always fits inside a message envelope under the serializer's own limit of 64; and only text that survives the
/// trip unaltered (no escaped lone surrogate such as <c>"\ud800"</c>, which no UTF-8 text can hold).
/// </summary>
public static class JsonLimits
{
    /// <summary>How deep a parameter or result may nest.</summary>
    public const int MaxDepth = 32;

    /// <summary>The largest a run's parameters may be in all, as JSON: big data belongs in a file, passed by its file rep.</summary>
    public const int MaxParameterBytes = 1024 * 1024;

    /// <summary>The JSON text's size in bytes, without copying it.</summary>
    public static int Size(JsonElement value) => JsonMarshal.GetRawUtf8Value(value).Length;

    /// <summary>The first reason <paramref name="value"/> cannot travel as it is, naming where in it (<paramref name="path"/> is its own name); null when it can.</summary>
    public static string? Check(JsonElement value, string path) => Check(value, path, 1);

    static string? Check(JsonElement value, string path, int depth)
    {
        if (depth > MaxDepth && value.ValueKind is JsonValueKind.Object or JsonValueKind.Array)
            return $"{path}: nested more than {MaxDepth} levels deep";
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                return IsText(value) ? null : $"{path}: holds an escaped lone surrogate (\\ud800-\\udfff), which is not text";
            case JsonValueKind.Number:
                return value.TryGetDouble(out var number) && double.IsFinite(number) ? null : $"{path}: {value.GetRawText()} is too large for a number (beyond ±1.8e308)";
            case JsonValueKind.Object:
                foreach (var property in value.EnumerateObject())
                {
                    if (!property.NameIsText())
                        return $"{path}: a key holds an escaped lone surrogate (\\ud800-\\udfff), which is not text";
                    if (Check(property.Value, $"{path}.{property.Name}", depth + 1) is { } problem)
                        return problem;
                }

                return null;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in value.EnumerateArray())
                    if (Check(item, $"{path}[{index++}]", depth + 1) is { } problem)
                        return problem;
                return null;
            default:
                return null;
        }
    }

    static bool NameIsText(this JsonProperty property)
    {
        try
        {
            return IsText(property.Name);
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>Whether a JSON string decodes to text: System.Text.Json refuses to decode a lone surrogate escape, which is the check wanted.</summary>
    public static bool IsText(JsonElement value)
    {
        try
        {
            return IsText(value.GetString()!);
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>Whether <paramref name="text"/> is well-formed UTF-16: every surrogate in a pair.</summary>
    public static bool IsText(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                i++;
            else if (char.IsSurrogate(text[i]))
                return false;
        }

        return true;
    }
}

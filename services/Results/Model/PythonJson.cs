using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;

namespace Lume.Results.Model;

/// <summary>
/// Writes JSON exactly as Python's <c>json.dumps</c> does with its defaults: <c>", "</c> and <c>": "</c> separators,
/// keys in document order, every non-ASCII character escaped as <c>\uXXXX</c>, integers as written, and floats as
/// Python's <c>repr</c> writes them (<c>1.0</c>, <c>0.1</c>, <c>1e-07</c>, <c>1e+22</c>). A number is a float when its
/// JSON text has a fraction or an exponent, as Python's json module decides.
/// </summary>
public static class PythonJson
{
    public static string Dumps(JsonElement value)
    {
        var text = new StringBuilder();
        Write(value, text);
        return text.ToString();
    }

    /// <summary>Appends <paramref name="value"/> to <paramref name="text"/>.</summary>
    public static void Write(JsonElement value, StringBuilder text)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                text.Append('{');
                var firstProperty = true;
                foreach (var property in value.EnumerateObject())
                {
                    if (!firstProperty)
                        text.Append(", ");
                    firstProperty = false;
                    WriteString(property.Name, text);
                    text.Append(": ");
                    Write(property.Value, text);
                }

                text.Append('}');
                break;
            case JsonValueKind.Array:
                text.Append('[');
                var firstItem = true;
                foreach (var item in value.EnumerateArray())
                {
                    if (!firstItem)
                        text.Append(", ");
                    firstItem = false;
                    Write(item, text);
                }

                text.Append(']');
                break;
            case JsonValueKind.String:
                WriteString(value.GetString()!, text);
                break;
            case JsonValueKind.Number:
                WriteNumber(value.GetRawText(), text);
                break;
            case JsonValueKind.True:
                text.Append("true");
                break;
            case JsonValueKind.False:
                text.Append("false");
                break;
            case JsonValueKind.Null:
                text.Append("null");
                break;
            default:
                throw new ArgumentException($"not a JSON value: {value.ValueKind}", nameof(value));
        }
    }

    /// <summary>A string with json.dumps's escapes (ensure_ascii).</summary>
    public static void WriteString(string value, StringBuilder text)
    {
        text.Append('"');
        foreach (var c in value)
        {
            switch (c)
            {
                case '"': text.Append("\\\""); break;
                case '\\': text.Append("\\\\"); break;
                case '\n': text.Append("\\n"); break;
                case '\r': text.Append("\\r"); break;
                case '\t': text.Append("\\t"); break;
                case '\b': text.Append("\\b"); break;
                case '\f': text.Append("\\f"); break;
                // Python escapes everything outside ' '..'~' (control characters, DEL, non-ASCII), one UTF-16 unit at a time, in lower-case hex.
                case < ' ' or > '~':
                    text.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    break;
                default: text.Append(c); break;
            }
        }

        text.Append('"');
    }

    static void WriteNumber(string raw, StringBuilder text)
    {
        if (raw.AsSpan().IndexOfAny('.', 'e', 'E') < 0)
        {
            text.Append(BigInteger.Parse(raw, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture));
            return;
        }

        text.Append(FloatRepr(double.Parse(raw, NumberStyles.Float, CultureInfo.InvariantCulture)));
    }

    /// <summary>Python's <c>repr(float)</c>: the shortest digits that round-trip, laid out by Python's rules.</summary>
    public static string FloatRepr(double value)
    {
        if (double.IsNaN(value) || double.IsInfinity(value))
            throw new ArgumentException("NaN and infinities are not JSON", nameof(value));
        if (value == 0)
            return double.IsNegative(value) ? "-0.0" : "0.0";

        // .NET's "R" gives the shortest round-trip digits too, but lays them out its own way; take them apart.
        var shortest = Math.Abs(value).ToString("R", CultureInfo.InvariantCulture);
        var exponentAt = shortest.IndexOf('E', StringComparison.Ordinal);
        var mantissa = exponentAt < 0 ? shortest : shortest[..exponentAt];
        var exponent = exponentAt < 0 ? 0 : int.Parse(shortest[(exponentAt + 1)..], CultureInfo.InvariantCulture);
        var point = mantissa.IndexOf('.', StringComparison.Ordinal);
        var allDigits = mantissa.Replace(".", "", StringComparison.Ordinal);
        var leadingZeros = allDigits.Length - allDigits.TrimStart('0').Length;
        var digits = allDigits.Trim('0');
        // decpt: where the decimal point falls relative to the first significant digit (Python's convention).
        var decpt = (point < 0 ? mantissa.Length : point) + exponent - leadingZeros;

        string body;
        if (decpt <= -4 || decpt > 16)
        {
            var e = decpt - 1;
            body = digits[..1] + (digits.Length > 1 ? "." + digits[1..] : "") +
                "e" + (e < 0 ? "-" : "+") + Math.Abs(e).ToString("00", CultureInfo.InvariantCulture);
        }
        else if (decpt <= 0)
        {
            body = "0." + new string('0', -decpt) + digits;
        }
        else if (decpt >= digits.Length)
        {
            body = digits + new string('0', decpt - digits.Length) + ".0";
        }
        else
        {
            body = digits[..decpt] + "." + digits[decpt..];
        }

        return value < 0 ? "-" + body : body;
    }
}

using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Lume.Cli;

/// <summary>
/// What a user hands the CLI (arguments, files, output paths), checked so that nothing is altered on the way in and
/// every refusal names the thing at fault. Each check returns a problem as text, or null when the input is fine.
/// </summary>
public static class CliInput
{
    static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// .NET decodes the command line as UTF-8 and puts U+FFFD where the bytes were not UTF-8 (<c>$'\xff'</c>). The
    /// bytes are gone by then, so the replacement character is the sign: passing it on would store text the user did
    /// not write.
    /// </summary>
    public static string? CheckArgument(string value, string where) =>
        value.Contains('\uFFFD', StringComparison.Ordinal)
            ? $"{where}: the value is not valid UTF-8 text (byte {Encoding.UTF8.GetByteCount(value[..value.IndexOf('\uFFFD', StringComparison.Ordinal)])} cannot be decoded); pass text, or put binary data in a file"
            : null;

    /// <summary>Reads a text file a user named, strictly as UTF-8; the text, or a problem that names the file and what is wrong.</summary>
    public static (string? Text, string? Problem) ReadTextFile(string path, string what)
    {
        byte[] bytes;
        try
        {
            if (Directory.Exists(path))
                return (null, $"{what} '{path}': is a folder; give a file");
            if (!File.Exists(path))
                return (null, $"{what} '{path}': no such file");
            bytes = File.ReadAllBytes(path);
        }
        catch (UnauthorizedAccessException)
        {
            return (null, $"{what} '{path}': permission denied");
        }
        catch (IOException e)
        {
            return (null, $"{what} '{path}': cannot be read ({e.Message})");
        }

        try
        {
            var start = bytes.AsSpan().StartsWith(Encoding.UTF8.Preamble) ? 3 : 0;
            return (StrictUtf8.GetString(bytes, start, bytes.Length - start), null);
        }
        catch (DecoderFallbackException e)
        {
            return (null, $"{what} '{path}': not UTF-8 text (an invalid byte at offset {e.Index.ToString(CultureInfo.InvariantCulture)}); save it as UTF-8");
        }
    }

    /// <summary>Checks where <c>-o</c> would write, before anything is asked of a service: a user's mistake there is a refused request.</summary>
    public static string? CheckOutputFile(string path)
    {
        if (Directory.Exists(path))
            return $"-o '{path}': is a folder; give a file name (e.g. {Path.Combine(path, "out.bin")})";
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (File.Exists(folder))
            return $"-o '{path}': {folder} is a file, not a folder";
        if (!Directory.Exists(folder))
            return $"-o '{path}': the folder {folder} does not exist; create it first";
        return null;
    }

    /// <summary>Spectre's form of a settings check: an error becomes a refused command (exit 2) naming the option.</summary>
    public static Spectre.Console.ValidationResult Validate(string? problem) =>
        problem is null ? Spectre.Console.ValidationResult.Success() : Spectre.Console.ValidationResult.Error(problem);

    /// <summary>
    /// Parses JSON a user gave, deeper than the serializer's default of 64 allows, so that a too-deep document is
    /// refused by Lume's own limit with its path named, rather than as "not JSON".
    /// </summary>
    public static JsonElement ParseJson(string text)
    {
        using var document = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 1024 });
        return document.RootElement.Clone();
    }

    /// <summary>Reads a count option (<c>-n</c>, <c>--width</c>); a problem names the option and the range.</summary>
    public static (int Value, string? Problem) Count(string? text, string option, int fallback, int min, int max)
    {
        if (text is null)
            return (fallback, null);
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
            return (fallback, $"{option}: '{text}' is not a whole number from {min} to {max}");
        return (value, null);
    }
}

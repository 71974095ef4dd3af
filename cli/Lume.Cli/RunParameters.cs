using System.Text.Json;

namespace Lume.Cli;

/// <summary>
/// Reads run parameters from the command line: <c>-p name=value</c> passes a string, <c>-p name:=json</c> raw
/// JSON (the httpie convention), and <c>--params-file</c> a JSON object that <c>-p</c> values override.
/// </summary>
public static class RunParameters
{
    /// <summary>The parameters, or every problem found, each naming the parameter or file at fault.</summary>
    public static (Dictionary<string, JsonElement> Parameters, List<string> Problems) Parse(IEnumerable<string> pairs, string? paramsFile)
    {
        var parameters = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        var problems = new List<string>();
        if (paramsFile is not null)
            ReadFile(paramsFile, parameters, problems);

        var given = new HashSet<string>(StringComparer.Ordinal);
        foreach (var pair in pairs)
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0 || (equals == 1 && pair[0] == ':'))
            {
                problems.Add($"-p '{pair}': expected name=value (a string) or name:=json (raw JSON)");
                continue;
            }

            var isJson = pair[equals - 1] == ':';
            var name = pair[..(isJson ? equals - 1 : equals)];
            var text = pair[(equals + 1)..];
            if (!given.Add(name))
            {
                problems.Add($"parameter '{name}': given more than once");
                continue;
            }

            if ((CliInput.CheckArgument(name, $"parameter '{name}' (its name)") ?? CliInput.CheckArgument(text, $"parameter '{name}'")) is { } notText)
            {
                // A stand-in, so the flow's checks that follow don't also call the parameter missing.
                parameters[name] = JsonSerializer.SerializeToElement<object?>(null);
                problems.Add(notText);
                continue;
            }

            if (!isJson)
            {
                parameters[name] = JsonSerializer.SerializeToElement(text);
                continue;
            }

            try
            {
                parameters[name] = CliInput.ParseJson(text);
            }
            catch (JsonException e)
            {
                parameters[name] = JsonSerializer.SerializeToElement<object?>(null);
                problems.Add($"parameter '{name}': the value is not JSON ({e.Message}); use {name}=... to pass it as a string");
            }
        }

        return (parameters, problems);
    }

    static void ReadFile(string path, Dictionary<string, JsonElement> parameters, List<string> problems)
    {
        var (text, unreadable) = CliInput.ReadTextFile(path, "--params-file");
        if (text is null)
        {
            problems.Add(unreadable!);
            return;
        }

        try
        {
            var document = CliInput.ParseJson(text);
            if (document.ValueKind != JsonValueKind.Object)
            {
                problems.Add($"--params-file '{path}': expected a JSON object of parameters, found {document.ValueKind.ToString().ToLowerInvariant()}");
                return;
            }

            foreach (var property in document.EnumerateObject())
                parameters[property.Name] = property.Value;
        }
        catch (JsonException e)
        {
            problems.Add($"--params-file '{path}': not JSON: {e.Message}");
        }
    }
}

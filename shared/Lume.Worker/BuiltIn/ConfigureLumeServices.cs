using Lume.Tasks;
using Microsoft.Extensions.Configuration;

namespace Lume.Worker.BuiltIn;

/// <summary>
/// <c>configure_lume_services</c>: checks this worker's <c>LUME_*</c> configuration. A group of settings that
/// is partly given (a mounted filesystem without its mount path, a results database without its host) fails
/// with EnvironmentNotConfigured, listing every missing variable. The result names the variables that are
/// set, never their values: upstream logged the whole environment, passwords included.
/// </summary>
public sealed class ConfigureLumeServices(IConfiguration configuration) : ILumeTask
{
    /// <summary>Groups of settings that are all-or-nothing: if one is set, the required ones must be too.</summary>
    static readonly (string Section, string[] Required)[] Groups =
    [
        ("MOUNTED_FILESYSTEM", ["IDENTIFIER", "MOUNT_PATH", "MOUNT_ALIAS"]),
        ("RESULTS_DB", ["HOST", "PORT", "DATABASE"]),
    ];

    public Task<object?> RunAsync(TaskArguments arguments, TaskContext context)
    {
        var missing = new List<string>();
        foreach (var (section, required) in Groups)
        {
            var given = configuration.GetSection(section);
            // A connection string says everything the separate variables would.
            if (!given.GetChildren().Any() || !string.IsNullOrWhiteSpace(given["CONNECTION_STRING"]))
                continue;
            missing.AddRange(required.Where(key => string.IsNullOrWhiteSpace(given[key])).Select(key => $"LUME_{section}__{key}"));
        }

        // A password without a user name (or the reverse) is a half-made credential.
        var db = configuration.GetSection("RESULTS_DB");
        if (string.IsNullOrEmpty(db["USERNAME"]) != string.IsNullOrEmpty(db["PASSWORD"]))
            missing.Add(string.IsNullOrEmpty(db["USERNAME"]) ? "LUME_RESULTS_DB__USERNAME" : "LUME_RESULTS_DB__PASSWORD");

        if (missing.Count > 0)
            throw new TaskFailedException("EnvironmentNotConfigured",
                $"Lume services are not fully configured; missing: {string.Join(", ", missing)}");

        var set = Groups.Select(g => g.Section).Append("RESULTS_DB").Distinct()
            .SelectMany(section => configuration.GetSection(section).GetChildren().Select(c => $"LUME_{section}__{c.Key}"))
            .Concat(new[] { "DATA_DIR", "BROKER", "LOCAL_FILESYSTEM__ROOT" }.Where(k => configuration[k.Replace("__", ":", StringComparison.Ordinal)] is not null).Select(k => $"LUME_{k}"))
            .Order(StringComparer.Ordinal)
            .ToArray();
        return Task.FromResult<object?>(new Dictionary<string, object> { ["configured"] = set });
    }
}

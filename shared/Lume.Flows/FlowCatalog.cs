namespace Lume.Flows;

/// <summary>The flows a host knows, by name and version.</summary>
public sealed class FlowCatalog
{
    readonly Dictionary<string, List<FlowDefinition>> _flows = new(StringComparer.Ordinal);

    /// <summary>A catalog of the given flows; a second definition of the same name and version is an error.</summary>
    public FlowCatalog(IEnumerable<FlowDefinition> flows)
    {
        foreach (var flow in flows)
        {
            var versions = _flows.TryGetValue(flow.Name, out var list) ? list : _flows[flow.Name] = [];
            if (versions.Any(v => v.Version == flow.Version))
                throw new FlowDefinitionException([$"flow '{flow.Name}' version '{flow.Version}' is defined twice"]);
            versions.Add(flow);
        }
    }

    /// <summary>The newest version of every flow, by name.</summary>
    public IReadOnlyList<FlowDefinition> Latest =>
        _flows.Values.Select(Newest).OrderBy(f => f.Name, StringComparer.Ordinal).ToArray();

    /// <summary>Finds a flow; a null version means the newest. Returns a problem naming the flow when there is none.</summary>
    public (FlowDefinition? Flow, string? Problem) Find(string name, string? version)
    {
        if (!_flows.TryGetValue(name, out var versions))
        {
            var known = _flows.Count == 0 ? "none" : string.Join(", ", _flows.Keys.Order(StringComparer.Ordinal));
            return (null, $"flow '{name}': unknown flow; known flows: {known}");
        }

        if (version is null)
            return (Newest(versions), null);
        var match = versions.FirstOrDefault(v => v.Version == version);
        return match is not null
            ? (match, null)
            : (null, $"flow '{name}': no version '{version}'; known versions: {string.Join(", ", versions.Select(v => v.Version))}");
    }

    // Versions compare as numbers where they parse as such ("10" after "9"), else as text.
    static FlowDefinition Newest(List<FlowDefinition> versions) =>
        versions.OrderBy(v => System.Version.TryParse(v.Version.Contains('.') ? v.Version : v.Version + ".0", out var parsed) ? parsed : new Version(0, 0))
            .ThenBy(v => v.Version, StringComparer.Ordinal)
            .Last();
}

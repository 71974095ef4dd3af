namespace Lume.Flows;

/// <summary>Names listed in an error message, as many as a reader takes in.</summary>
public static class NameList
{
    /// <summary>The most names an error lists; a flow of 100,000 tasks would otherwise print all of them.</summary>
    public const int Most = 20;

    /// <summary>"a, b, c", or the first <see cref="Most"/> and "… (N in all)".</summary>
    public static string Of(IEnumerable<string> names)
    {
        var list = names as IReadOnlyCollection<string> ?? names.ToList();
        return list.Count <= Most
            ? string.Join(", ", list)
            : $"{string.Join(", ", list.Take(Most))}, … ({list.Count:N0} in all)";
    }
}

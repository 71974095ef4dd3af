namespace Lume.Examples;

/// <summary>The tasks of the example flows.</summary>
public static class ExampleTasks
{
    /// <summary>Upstream <c>append_text</c>.</summary>
    public static string AppendText(string text1, string text2) => text1 + text2;

    /// <summary>Upstream flow3's check.</summary>
    public static bool CheckTextEquivalence(string text1, string text2) => string.Equals(text1, text2, StringComparison.Ordinal);

    /// <summary>Always throws, for the failing flow.</summary>
    public static string RaiseError(string message) => throw new InvalidOperationException(message);
}

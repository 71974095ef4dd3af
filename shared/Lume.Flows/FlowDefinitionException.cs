namespace Lume.Flows;

/// <summary>A flow definition or a run request that breaks the rules; lists every problem found, not just the first.</summary>
public sealed class FlowDefinitionException(IReadOnlyList<string> problems)
    : Exception(string.Join(Environment.NewLine, problems))
{
    /// <summary>Each problem on its own, naming the task, parameter or flow at fault.</summary>
    public IReadOnlyList<string> Problems { get; } = problems;
}

using Lume.Flows;

namespace Lume.Examples;

/// <summary>The upstream LUME-services test flows, written with Lume's builder.</summary>
public static class ExampleFlows
{
    /// <summary>Upstream flow1: appends two texts and saves the result as a TextFile, after checking the configuration.</summary>
    public static readonly FlowDefinition Flow1 = Flow.Define("flow1", f =>
    {
        var text1 = f.Parameter("text1");
        var text2 = f.Parameter("text2");
        var filename = f.Parameter("filename");
        var filesystemIdentifier = f.Parameter("filesystem_identifier");

        var configure = f.Task("configure_lume_services");
        var newText = f.Task("append_text", new { text1, text2 });
        // Upstream's local filesystem overwrote silently; here a flow says so, which keeps this example repeatable.
        f.Task("save_file", new { obj = newText, filename, filesystem_identifier = filesystemIdentifier, file_type = "TextFile", overwrite = true },
                name: "save_text_file")
            .SetUpstream(configure);
    });

    /// <summary>Upstream flow2: loads the text of a file rep, makes a generic Result of it and stores it, returning the result rep.</summary>
    public static readonly FlowDefinition Flow2 = Flow.Define("flow2", f =>
    {
        var text = f.Task("load_file", new { file_rep = f.Parameter("file_rep") });
        var result = f.Task("make_text_result", new { text });
        f.Task("save_db_result", new { result });
    });

    /// <summary>Closes the chain flow1 → flow2: loads output1 of a stored result and checks it equals the expected text.</summary>
    public static readonly FlowDefinition CheckResult = Flow.Define("check_result", f =>
    {
        var stored = f.Task("load_db_result", new { result_rep = f.Parameter("result_rep"), attribute_index = new[] { "outputs", "output1" } });
        f.Task("check_text_equivalence", new { text1 = stored, text2 = f.Parameter("expected") });
    });

    /// <summary>Upstream flow3: whether two texts are equal.</summary>
    public static readonly FlowDefinition Flow3 = Flow.Define("flow3", f =>
    {
        f.Task("check_text_equivalence", new { text1 = f.Parameter("text1"), text2 = f.Parameter("text2") });
    });

    /// <summary>A flow whose task throws: the run fails, naming the task and its error, and the task after it is skipped.</summary>
    public static readonly FlowDefinition FailingFlow = Flow.Define("failing_flow", f =>
    {
        var failed = f.Task("raise_error", new { message = f.Parameter("message") });
        f.Task("append_text", new { text1 = failed, text2 = "never appended" });
    });

    public static IReadOnlyList<FlowDefinition> All { get; } = [Flow1, Flow2, Flow3, CheckResult, FailingFlow];
}

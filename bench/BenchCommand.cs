using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Lume.Bench;

/// <summary>The bench's command line.</summary>
sealed class BenchCommand : AsyncCommand<BenchCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--quick")]
        [Description("Fewer measurements for routine use (5,000 raw MassTransit messages, not 10,000; no 20,000- and 100,000-task graphs; no static fan-out beside the map); leaves docs/benchmarks.md as it is")]
        public bool Quick { get; init; }

        [CommandOption("--ui")]
        [Description("Measure only the web view's run page of 5,000-task runs in headless Chromium (embedded services, no broker); leaves docs/benchmarks.md as it is")]
        public bool Ui { get; init; }

        [CommandOption("--only <NAMES>")]
        [Description("Measure only these, comma-separated: " + BenchmarkRun.StepNames + "; leaves docs/benchmarks.md as it is")]
        public string? Only { get; init; }

        public IReadOnlySet<string> Steps => (Only ?? BenchmarkRun.StepNames).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet();

        public override ValidationResult Validate()
        {
            var unknown = Steps.Except(BenchmarkRun.StepNames.Split(", ")).ToArray();
            return unknown.Length == 0
                ? ValidationResult.Success()
                : ValidationResult.Error($"--only: unknown benchmark {string.Join(", ", unknown)}; choose from {BenchmarkRun.StepNames}");
        }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        if (settings.Ui)
        {
            var page = new Results(settings.Quick);
            await UiPage.MeasureAsync(page);
            page.Print(Console.Out);
            Console.WriteLine("(docs/benchmarks.md is left as it is: it holds a full run)\n");
            return 0;
        }

        var results = await new BenchmarkRun(settings.Quick, settings.Steps).RunAsync();
        results.Print(Console.Out);
        // Only a full run of everything stands for the project's figures.
        if (!settings.Quick && settings.Only is null)
            await results.WriteDocumentAsync();
        else
            Console.WriteLine("(docs/benchmarks.md is left as it is: it holds a full run)\n");
        Console.WriteLine(results.SummaryLine());
        return 0;
    }
}

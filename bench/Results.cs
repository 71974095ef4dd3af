using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace Lume.Bench;

/// <summary>What a run measured: rows for the table, named figures for the RESULT line, notes on what was not measured.</summary>
sealed class Results(bool quick)
{
    readonly List<(string Benchmark, string Result)> _rows = [];
    readonly Dictionary<string, double> _metrics = [];
    readonly List<string> _notes = [];

    public void Add(string benchmark, string result) => _rows.Add((benchmark, result));

    public void Metric(string name, double value) => _metrics[name] = value;

    public void Note(string note) => _notes.Add(note);

    public string Table()
    {
        var text = new StringBuilder("| benchmark | result |\n|---|---|\n");
        foreach (var (benchmark, result) in _rows)
            text.Append(CultureInfo.InvariantCulture, $"| {benchmark} | {result} |\n");
        foreach (var note in _notes)
            text.Append(CultureInfo.InvariantCulture, $"\n- {note}");
        return text.ToString();
    }

    public void Print(TextWriter writer) => writer.WriteLine(Table());

    static string Machine() =>
        $"{Environment.ProcessorCount} cores, {GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024 * 1024 * 1024.0):0.0} GiB, " +
        $"{RuntimeInformation.OSDescription}, .NET {Environment.Version}, MassTransit 8.5.12, RabbitMQ from Debian's rabbitmq-server";

    /// <summary>Writes the table into docs/benchmarks.md, keeping the findings written there by hand below the marker.</summary>
    public async Task WriteDocumentAsync()
    {
        var path = Path.Combine(Testing.Broker.RepositoryRoot, "docs", "benchmarks.md");
        var kept = File.Exists(path) && (await File.ReadAllTextAsync(path)) is var old && old.IndexOf(Marker, StringComparison.Ordinal) is >= 0 and var at
            ? old[at..]
            : $"{Marker}\n";
        var text = $"# Benchmarks\n\nMeasured by `dotnet run -c Release --project bench{(quick ? " -- --quick" : "")}` on {TimeProvider.System.GetUtcNow():yyyy-MM-dd HH:mm} UTC, " +
            $"{Machine()}. Every row comes from the same run on the same broker; compare ratios, not absolute times.\n\n{Table()}\n\n`{SummaryLine()}`\n\n{kept}";
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllTextAsync(path, text);
    }

    const string Marker = "## Findings";

    string Value(string name, string format = "0.00") =>
        _metrics.TryGetValue(name, out var value) && double.IsFinite(value) ? value.ToString(format, CultureInfo.InvariantCulture) : "NA";

    string Ratio(string numerator, string denominator, double scale = 1) =>
        _metrics.TryGetValue(numerator, out var n) && _metrics.TryGetValue(denominator, out var d) && d > 0
            ? (n / (d * scale)).ToString("0.00", CultureInfo.InvariantCulture)
            : "NA";

    /// <summary>The machine-readable last line.</summary>
    public string SummaryLine()
    {
        var fanout = _metrics.ContainsKey("fanout_tps_4") ? "fanout_tps_4" : "none";
        return $"RESULT chain_hop_ms={Value("chain_hop_ms")} chain_vs_masstransit={Ratio("chain_hop_ms", "mt_step_ms")} " +
            $"chain_vs_celery={Ratio("chain_hop_ms", "celery_step_ms")} fanout_tps={Value(fanout, "0")} " +
            $"fanout_vs_celery={Ratio(fanout, "celery_group_tps")} fanout_vs_masstransit={Ratio(fanout, "mt_msgs_per_s", 0.5)} " +
            $"graph20k_rss_mb={Value("graph20k_rss_mb", "0")} graph20k_s={Value("graph20k_s", "0.0")} " +
            $"map10k_tps={Value("map10k_tps", "0")} map10k_kib_per_element={Value("map10k_kib_per_element", "0.0")} " +
            $"fanout_tps_1={Value("fanout_tps_1", "0")} fanout_tps_2={Value("fanout_tps_2", "0")} " +
            $"embedded_fanout_tps={Value("embedded_fanout_tps", "0")} embedded_chain_hop_ms={Value("embedded_chain_hop_ms", "0.000")} " +
            $"graph100k_rss_mb={Value("graph100k_rss_mb", "0")} graph100k_s={Value("graph100k_s", "0.0")} " +
            $"graph100k_vs_20k={Ratio("graph100k_s", "graph20k_s")} " +
            $"runs_per_s={Value("runs_per_s", "0")} runs_p50_ms={Value("runs_p50_ms", "0")} runs_p99_ms={Value("runs_p99_ms", "0")} " +
            $"runs_vs_celery={Ratio("runs_per_s", "celery_chains_per_s")} fanout_tracing_ratio={Ratio("fanout_tracing_tps", fanout)}";
    }
}

using System.Diagnostics;

namespace Lume.Bench;

/// <summary>
/// CPU time each process of a deployment spends during one measurement: the profile that says where a benchmark's
/// time goes on a machine whose cores the broker, the services and the client all share.
/// </summary>
sealed class CpuUse
{
    readonly List<(string Role, Process Process, TimeSpan Before)> _processes = [];

    public static CpuUse Start(IEnumerable<(string Role, int Pid)> processes)
    {
        var use = new CpuUse();
        foreach (var (role, pid) in processes.Append(("client", Environment.ProcessId)))
            use.Add(role, Process.GetProcessById(pid));
        foreach (var broker in Process.GetProcessesByName("beam.smp"))
            use.Add("broker", broker);
        return use;
    }

    void Add(string role, Process process) => _processes.Add((role, process, process.TotalProcessorTime));

    /// <summary>Milliseconds of CPU per unit of work (per task, per message) by role, e.g. "scheduler 0.41, workers 0.30".</summary>
    public string PerUnit(int units) => string.Join(", ", _processes
        .GroupBy(p => p.Role)
        .Select(g => (Role: g.Key, Ms: g.Sum(p => Used(p.Process, p.Before)) / units))
        .Where(r => r.Ms >= 0.005) // a process with no part in the measurement (the FileService in a fan-out)
        .Select(r => $"{r.Role} {r.Ms:0.00}"));

    static double Used(Process process, TimeSpan before)
    {
        process.Refresh();
        return (process.TotalProcessorTime - before).TotalMilliseconds;
    }
}

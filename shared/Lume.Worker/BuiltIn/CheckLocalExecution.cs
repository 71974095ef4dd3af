using Lume.Hosting;
using Lume.Tasks;
using Microsoft.Extensions.Options;

namespace Lume.Worker.BuiltIn;

/// <summary>
/// <c>check_local_execution</c>: true when the run is embedded, that is when this worker has no broker and lives in
/// the process that runs the flow; upstream's model template branches on it (<c>case(running_local, False)</c>).
/// </summary>
public sealed class CheckLocalExecution(IOptions<LumeOptions> lume) : ILumeTask
{
    public Task<object?> RunAsync(TaskArguments arguments, TaskContext context) => Task.FromResult<object?>(lume.Value.BrokerAddress is null);
}

using System.Text.Json;
using Lume.Contracts;
using Lume.Flows;
using MassTransit;

namespace Lume.Hosting;

/// <summary>
/// Flow definitions in registration messages (<see cref="RegisterWorker"/>, <see cref="RegisterFlow"/>): in the body up
/// to <see cref="FlowLimits.InlineBytes"/> of JSON, by claim check past that, written and read a piece at a time.
/// </summary>
public static class FlowTransfer
{
    // Read by the Scheduler while the registration's request waits for its answer: an hour is plenty.
    static readonly TimeSpan Lifetime = TimeSpan.FromHours(1);

    static readonly JsonElement NullJson = JsonSerializer.SerializeToElement<object?>(null);

    /// <summary>The definitions as a registration carries them: in the body, or else a claim check.</summary>
    public static async Task<(IReadOnlyList<JsonElement> Inline, MessageData<Stream>? ClaimCheck)> PackAsync(
        IMessageDataRepository repository, IEnumerable<FlowDefinition> flows, CancellationToken cancellationToken)
    {
        using var json = new MemoryStream();
        FlowJson.WriteAll(json, flows);
        if (json.Length <= FlowLimits.InlineBytes)
            return (JsonSerializer.Deserialize<JsonElement[]>(json.GetBuffer().AsSpan(0, (int)json.Length))!, null);
        json.Position = 0;
        return ([], await repository.PutStream(json, Lifetime, cancellationToken));
    }

    /// <summary>A <see cref="RegisterFlow"/> for <paramref name="flow"/>.</summary>
    public static async Task<RegisterFlow> RegisterFlowAsync(
        IMessageDataRepository repository, FlowDefinition flow, string pool, CancellationToken cancellationToken)
    {
        var (inline, claimCheck) = await PackAsync(repository, [flow], cancellationToken);
        return new RegisterFlow(inline.Count > 0 ? inline[0] : NullJson, pool, claimCheck);
    }

    /// <summary>
    /// The definitions a registration carries, each parsed on its own, so that one malformed flow does not hide the
    /// others: the problems name what is wrong.
    /// </summary>
    public static async Task<(List<FlowDefinition> Flows, List<string> Problems)> UnpackAsync(
        IReadOnlyList<JsonElement> inline, MessageData<Stream>? claimCheck, CancellationToken cancellationToken)
    {
        var flows = new List<FlowDefinition>();
        var problems = new List<string>();
        foreach (var json in inline)
        {
            try
            {
                flows.Add(FlowJson.Parse(json));
            }
            catch (FlowDefinitionException e)
            {
                problems.AddRange(e.Problems);
            }
        }

        if (claimCheck is { HasValue: true })
        {
            try
            {
                await using var stream = await claimCheck.Value;
                flows.AddRange(await FlowJson.ReadAllAsync(stream, cancellationToken));
            }
            catch (FlowDefinitionException e)
            {
                problems.AddRange(e.Problems);
            }
            catch (Exception e) when (e is IOException or MessageDataException or UnauthorizedAccessException)
            {
                problems.Add($"the flows' claim check {claimCheck.Address} could not be read: {e.Message} " +
                    "(the registering process and the Scheduler must share LUME_MESSAGE_DATA_DIR)");
            }
        }

        return (flows, problems);
    }
}

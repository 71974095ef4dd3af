namespace Lume.Hosting;

/// <summary>
/// A send with a time limit. After a broker restart, RabbitMQ's .NET client can leave a publish waiting for a
/// confirmation that never comes (see <see cref="SendWatchdog"/>): a caller that must go on (a heartbeat, a report that
/// is tried again) gives it up after a while, and a fresh send goes out on the fresh channel.
/// </summary>
public static class SendLimit
{
    /// <summary>
    /// Runs <paramref name="send"/> with a token that fires after <paramref name="limit"/>, and stops waiting for it then
    /// even if it ignores the token: <see cref="TimeoutException"/>. <paramref name="cancellationToken"/> cancels as usual.
    /// </summary>
    public static async Task WithinAsync(Func<CancellationToken, Task> send, TimeSpan limit, TimeProvider time, CancellationToken cancellationToken)
    {
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timer.CancelAfter(limit);
        try
        {
            await send(timer.Token).WaitAsync(limit, time, cancellationToken);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"not sent within {limit.TotalSeconds:0} s");
        }
    }
}

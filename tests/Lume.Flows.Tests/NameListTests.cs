namespace Lume.Flows.Tests;

public sealed class NameListTests
{
    [Fact]
    public void AShortList_IsListedWhole()
    {
        var names = Enumerable.Range(1, NameList.Most).Select(i => $"t{i}").ToArray();

        Assert.Equal(string.Join(", ", names), NameList.Of(names));
    }

    [Fact]
    public void ALongList_ShowsItsFirstNames_AndHowManyThereAre()
    {
        var names = Enumerable.Range(1, 100_000).Select(i => $"item-{i}");

        var listed = NameList.Of(names);

        Assert.StartsWith("item-1, item-2, ", listed, StringComparison.Ordinal);
        Assert.Contains($"item-{NameList.Most}, … (100,000 in all)", listed, StringComparison.Ordinal);
        Assert.DoesNotContain($"item-{NameList.Most + 1},", listed, StringComparison.Ordinal);
    }
}

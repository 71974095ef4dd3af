namespace Lume.Flows.Tests;

// A flow read from JSON is held compactly (see CompactJson.cs); it must read and write as the plain form did.
public class CompactJsonTests
{
    static string Task(string slug, string inputs, string upstream = "[]") =>
        $$"""{"slug":"{{slug}}","type":"identity","inputs":{{{inputs}}},"upstream":{{upstream}}}""";

    static FlowDefinition Read(params string[] tasks) =>
        FlowJson.Parse($$"""{"name":"f","version":"1","parameters":[],"tasks":[{{string.Join(",", tasks)}}]}""");

    [Fact]
    public void AFlowWrittenAndReadAgain_IsTheSame_ArgumentsInTheirOrder()
    {
        var flow = Flow.Define("compact", f =>
        {
            var a = f.Task("identity", new { value = 1, other = f.Parameter("p", "x") }, name: "a");
            f.Task("identity", new { value = a }, name: "b").SetUpstream(f.Task("identity", new { value = 2 }, name: "c"));
        });

        var again = FlowJson.Parse(FlowJson.Write(flow));

        Assert.Equal(FlowJson.Write(flow), FlowJson.Write(again));
        Assert.Equal(["value", "other"], again.FindTask("a")!.Inputs.Keys);
        Assert.Equal(new TaskOutput("a"), again.FindTask("b")!.Inputs["value"]);
        Assert.Equal(["c"], again.FindTask("b")!.Upstream);
        Assert.Equal(FlowJson.Measure(flow).Digest.ToArray(), FlowJson.Measure(again).Digest.ToArray());
        Assert.Equal(System.Text.Encoding.UTF8.GetByteCount(FlowJson.Write(flow)), FlowJson.Measure(again).Length);
    }

    [Fact]
    public void ASlug_IsOneStringWhereverItsDefinitionNamesIt_EscapedOrLong()
    {
        var longSlug = new string('x', 300);
        var flow = Read(
            Task("a\\u0062", """ "value":{"from":"value","value":1} """),
            Task(longSlug, """ "value":{"from":"value","value":2} """),
            Task("fan_in", $$""" "ab":{"from":"task","task":"ab"},"{{longSlug}}":{"from":"task","task":"{{longSlug}}"} """, upstream: """["ab"]"""));

        var (ab, fanIn) = (flow.Tasks[0].Slug, flow.Tasks[2]);
        Assert.Equal("ab", ab);
        Assert.Same(ab, fanIn.Inputs.Keys.First());
        Assert.Same(ab, Assert.IsType<TaskOutput>(fanIn.Inputs["ab"]).Task);
        Assert.Same(ab, fanIn.Upstream.Single());
        Assert.Equal(longSlug, Assert.IsType<TaskOutput>(fanIn.Inputs[longSlug]).Task); // read as it is, past the length shared
    }

    [Fact]
    public void ADefinitionsConstants_AreOneDocument_AndReadAsWritten()
    {
        var flow = Read(
            Task("a", """ "value":{"from":"value","value":1} """),
            Task("b", """ "value":{"from":"value","value":2},"text":{"from":"value","value":"t\u00e9\"x"},"obj":{"from":"value","value":{"k":[1,{"z":null}]}} """));

        var (one, two) = (Constant(flow, "a", "value"), Constant(flow, "b", "value"));
        Assert.Equal((1, 2), (one.GetInt32(), two.GetInt32()));
        Assert.Equal("t\u00e9\"x", Constant(flow, "b", "text").GetString());
        Assert.Equal("""{"k":[1,{"z":null}]}""", Constant(flow, "b", "obj").GetRawText());
        // Side by side in one buffer ("[1,2,..."): two documents' values are never two bytes apart.
        Assert.Equal(2, (long)System.Runtime.CompilerServices.Unsafe.ByteOffset(
            ref System.Runtime.InteropServices.MemoryMarshal.GetReference(System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(one)),
            ref System.Runtime.InteropServices.MemoryMarshal.GetReference(System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(two))));
        Assert.Equal(FlowJson.Write(flow), FlowJson.Write(FlowJson.Parse(FlowJson.Write(flow))));
    }

    [Fact]
    public async Task DefinitionsReadTogether_EachKeepItsOwnConstants()
    {
        var flows = Enumerable.Range(0, 30).Select(i => Flow.Define($"f{i}", f => f.Task("identity", new { value = i, name = $"flow {i}" }, name: "t"))).ToList();
        using var json = new MemoryStream();
        FlowJson.WriteAll(json, flows);
        json.Position = 0;

        var read = await FlowJson.ReadAllAsync(json, CancellationToken.None);

        Assert.Equal(Enumerable.Range(0, 30), read.Select(f => Constant(f, "t", "value").GetInt32()));
        Assert.Equal(flows.Select(FlowJson.Write), read.Select(FlowJson.Write));
    }

    static System.Text.Json.JsonElement Constant(FlowDefinition flow, string task, string argument) =>
        Assert.IsType<ConstantInput>(flow.FindTask(task)!.Inputs[argument]).Value;

    [Fact]
    public void EachKindOfArgument_IsWrittenAsTheSerializerWritesATaskInput_AndReadBack()
    {
        TaskInput[] inputs =
        [
            new ParameterInput("p\u00e9"),
            new TaskOutput("a"),
            new TaskOutput("a", ["k", "0"]),
            new ConstantInput(System.Text.Json.JsonSerializer.SerializeToElement(new { x = new[] { 1.5 }, s = "<&>" })),
        ];
        var options = new System.Text.Json.JsonSerializerOptions { Converters = { new TaskInputsJsonConverter() } };

        foreach (var input in inputs)
        {
            var map = new Dictionary<string, TaskInput> { ["arg"] = input };
            var written = System.Text.Json.JsonSerializer.Serialize<IReadOnlyDictionary<string, TaskInput>>(map, options);

            Assert.Equal($$"""{"arg":{{System.Text.Json.JsonSerializer.Serialize<TaskInput>(input)}}}""", written);
            var read = System.Text.Json.JsonSerializer.Deserialize<IReadOnlyDictionary<string, TaskInput>>(written, options)!["arg"];
            Assert.Equal(System.Text.Json.JsonSerializer.Serialize<TaskInput>(input), System.Text.Json.JsonSerializer.Serialize<TaskInput>(read));
        }
    }

    [Theory]
    [InlineData(""" {"parameter":"p"} """, "argument 'x' has no \"from\"")]
    [InlineData(""" {"from":"task"} """, "argument 'x' comes from a task but has no \"task\"")]
    [InlineData(""" {"from":"value"} """, "argument 'x' comes from a constant but has no \"value\"")]
    [InlineData(""" {"from":"parameter","parameter":3} """, "argument 'x': \"parameter\" must be a string")]
    [InlineData(""" {"from":"task","task":"a","path":"k"} """, "argument 'x': \"path\" must be a list of keys")]
    [InlineData(""" 7 """, "argument 'x' must be an object with \"from\"")]
    public void ABadArgument_IsRefused_NamingTheArgumentAndWhatIsWrong(string argument, string expected)
    {
        var error = Assert.Throws<FlowDefinitionException>(() => Read(Task("t", $$""" "x":{{argument}} """)));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Contains("$.tasks[0].inputs", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AConstantsValueBeforeItsFrom_IsReadAsWell_AndUnknownMembersArePassedOver()
    {
        var flow = Read(Task("t", """ "x":{"value":{"k":1},"note":[1,2],"from":"value"},"y":{"from":"value","value":2} """));

        Assert.Equal("""{"k":1}""", Constant(flow, "t", "x").GetRawText());
        Assert.Equal(2, Constant(flow, "t", "y").GetInt32());
    }

    [Fact]
    public void WritingADefinitionReadFromJson_MakesNoGarbagePerTask()
    {
        var flow = FlowJson.Parse(FlowJson.Write(Flow.Define("wide", f =>
            f.Task("sum", Enumerable.Range(0, 5_000).ToDictionary(i => $"item-{i}", object? (i) => f.Task("identity", new { value = i }, name: $"item-{i}"))))));
        FlowJson.WriteUtf8(Stream.Null, flow); // the serializer's own buffers, once

        var before = GC.GetAllocatedBytesForCurrentThread();
        FlowJson.WriteUtf8(Stream.Null, flow);
        var perTask = (GC.GetAllocatedBytesForCurrentThread() - before) / (double)flow.Tasks.Count;

        // A nested call of the serializer per argument cost about 600 bytes a task (60 MB for 100,000 tasks).
        Assert.True(perTask < 8, $"writing the definition allocated {perTask:0} bytes a task");
    }

    [Theory]
    [InlineData(3)]
    [InlineData(50)] // past the size a lookup scans
    public void ArgumentsAreFoundByName_AndARepeatedNameKeepsItsLastValue(int count)
    {
        var inputs = string.Join(",", Enumerable.Range(0, count).Select(i => $$"""
            "arg{{i}}":{"from":"value","value":{{i}}}
            """)) + ""","arg1":{"from":"parameter","parameter":"p"}""";

        var task = Read(Task("t", inputs)).Tasks[0];

        Assert.Equal(count, task.Inputs.Count);
        Assert.Equal(new ParameterInput("p"), task.Inputs["arg1"]);
        Assert.Equal(count - 1, Assert.IsType<ConstantInput>(task.Inputs[$"arg{count - 1}"]).Value.GetInt32());
        Assert.False(task.Inputs.ContainsKey("missing"));
        Assert.Throws<KeyNotFoundException>(() => task.Inputs["missing"]);
        Assert.Equal(Enumerable.Range(0, count).Select(i => $"arg{i}"), task.Inputs.Keys);
    }

    [Fact]
    public void TaskTypesAndArgumentNames_AreOneStringAcrossTasks_AndEmptyUpstreamListsOneArray()
    {
        var flow = Read(Task("a", """ "value":{"from":"value","value":1} """), Task("b", """ "value":{"from":"value","value":2} """));

        Assert.Same(flow.Tasks[0].Type, flow.Tasks[1].Type);
        Assert.Same(flow.Tasks[0].Inputs.Keys.Single(), flow.Tasks[1].Inputs.Keys.Single());
        Assert.Same(flow.Tasks[0].Inputs.Keys, flow.Tasks[1].Inputs.Keys); // the same list of names: one array
        Assert.Same(flow.Tasks[0].Upstream, flow.Tasks[1].Upstream);
    }

    [Theory]
    [InlineData("""{"slug":"t","type":"identity","inputs":{"x":null},"upstream":[]}""", "argument 'x' is null")]
    [InlineData("""{"slug":"t","type":"identity","inputs":[],"upstream":[]}""", "expected an object of arguments")]
    [InlineData("""{"slug":"t","type":"identity","inputs":{},"upstream":[1]}""", "expected a task slug")]
    [InlineData("""{"slug":"t","type":7,"inputs":{},"upstream":[]}""", "expected a string")]
    public void AMalformedTask_SaysWhatIsWrong_AndWhere(string task, string expected)
    {
        var problem = Assert.Throws<FlowDefinitionException>(() => Read(task));

        var message = string.Join("; ", problem.Problems);
        Assert.Contains(expected, message);
        Assert.Contains("$.tasks[0]", message);
    }
}

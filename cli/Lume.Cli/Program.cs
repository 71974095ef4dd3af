using Lume.Cli;
using Lume.Cli.Commands;
using Spectre.Console.Cli;

var app = new CommandApp();
app.Configure(config =>
{
    config.SetApplicationName("lume");
    config.SetExceptionHandler(CliErrors.Handle);
    config.Settings.StrictParsing = true;
    config.AddCommand<RunCommand>("run")
        .WithDescription("Run a flow and follow it to the end")
        .WithExample("run", "flow1", "-p", "text1=Hello", "-p", "text2=World", "-p", "filename=hello.txt", "-p", "filesystem_identifier=local");
    config.AddBranch("flows", flows =>
    {
        flows.SetDescription("List the flows that can be run, with their parameters, or register one from a file");
        flows.SetDefaultCommand<FlowsCommand>();
        flows.AddCommand<FlowsRegisterCommand>("register")
            .WithDescription("Register a flow from its JSON or YAML form, checked against the task types of the pool that runs it")
            .WithExample("flows", "register", "myflow.yaml");
        flows.AddCommand<FlowsComposeCommand>("compose")
            .WithDescription("Register a flow of flows from LUME-services' YAML: each composing flow runs as a subflow, mapped parameters take earlier flows' task results")
            .WithExample("flows", "compose", "examples/flows/text_chain.yaml");
    });
    config.AddBranch("runs", runs =>
    {
        runs.SetDescription("List recent runs, or show one");
        runs.SetDefaultCommand<RunsCommand>();
        runs.AddCommand<RunsShowCommand>("show").WithDescription("Show a run's tasks, states and results");
        runs.AddCommand<RunsCancelCommand>("cancel").WithDescription("Cancel a run: running tasks are told to stop, the others never start");
        runs.AddCommand<RunsApproveCommand>("approve").WithDescription("Release a task that waits for approval (trigger manual_only)");
        runs.AddCommand<RunsTraceCommand>("trace").WithDescription("Show a run's timeline: each task's release, wait and run time");
    });
    config.AddCommand<UiCommand>("ui")
        .WithDescription("Serve the web view of flows and runs, and its HTTP API, on http://127.0.0.1:PORT until Ctrl+C")
        .WithExample("ui", "--port", "8080");
    config.AddBranch("files", files =>
    {
        files.SetDescription("Read and list files through the FileService");
        files.AddCommand<FilesGetCommand>("get").WithDescription("Write a saved file's bytes to stdout or -o OUT");
        files.AddCommand<FilesListCommand>("ls").WithDescription("List a folder of a filesystem");
    });
    config.AddBranch("results", results =>
    {
        results.SetDescription("Store, list and show results in the Results service");
        results.AddCommand<ResultsSaveCommand>("save").WithDescription("Store a result document (JSON file) and print its rep");
        results.AddCommand<ResultsListCommand>("list").WithDescription("List the results of a project, newest first");
        results.AddCommand<ResultsShowCommand>("show").WithDescription("Print a stored result (its db-dict) by rep or unique_hash");
    });
});
return await app.RunAsync(args);

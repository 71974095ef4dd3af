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
    config.AddCommand<FlowsCommand>("flows").WithDescription("List the flows that can be run, with their parameters");
    config.AddBranch("runs", runs =>
    {
        runs.SetDescription("List recent runs, or show one");
        runs.SetDefaultCommand<RunsCommand>();
        runs.AddCommand<RunsShowCommand>("show").WithDescription("Show a run's tasks, states and results");
    });
});
return await app.RunAsync(args);

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
    config.AddCommand<FlowsCommand>("flows").WithDescription("List the known flows and their parameters");
});
return await app.RunAsync(args);

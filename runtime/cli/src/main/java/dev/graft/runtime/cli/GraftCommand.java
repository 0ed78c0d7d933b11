package dev.graft.runtime.cli;

import picocli.CommandLine.Command;

/**
 * The top command, {@code graft}. It only groups the subcommands; {@link GraftMain} runs them.
 *
 * <p>To add a subcommand (forward, merge, inspect, train, ...): write a picocli {@code @Command} class in this
 * package that implements {@code Callable<Integer>}, declare {@code @Mixin PluginOptions} if it uses methods,
 * take the runtime's services through one {@code @Inject} method (the injector is built after parsing, so it
 * knows the plugin directories), and list the class in {@code subcommands} below.
 */
@Command(
        name = "graft",
        mixinStandardHelpOptions = true,
        versionProvider = GraftVersion.class,
        description = "Parameter-efficient fine-tuning for the JVM.",
        synopsisSubcommandLabel = "COMMAND",
        subcommands = {
                QuickstartCommand.class,
                TrainCommand.class,
                EvaluateCommand.class,
                PredictCommand.class,
                MethodsCommand.class,
                ForwardCommand.class,
                InspectCommand.class,
                MergeCommand.class,
                TinyLlamaCommand.class,
                BenchCommand.class,
        })
public final class GraftCommand {
}

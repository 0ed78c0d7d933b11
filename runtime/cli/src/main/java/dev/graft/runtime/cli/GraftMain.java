package dev.graft.runtime.cli;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;
import static java.util.stream.Collectors.joining;

import com.google.inject.Guice;
import com.google.inject.Injector;
import com.google.inject.ProvisionException;
import dev.graft.runtime.error.GraftException;
import dev.graft.runtime.inject.GraftModule;
import dev.graft.runtime.plugin.MethodRegistry;
import dev.graft.runtime.plugin.PluginConfiguration;
import dev.graft.runtime.plugin.PluginFrames;
import dev.graft.runtime.plugin.PluginProblem;

import java.io.PrintWriter;
import java.nio.charset.Charset;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import picocli.CommandLine;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * The {@code graft} command-line entry point.
 *
 * <p>Picocli parses the arguments into the chosen subcommand; then the runtime's injector is built once, from
 * the distribution's plugin folder ({@code -Dgraft.home}, set by the launcher) and the subcommand's
 * {@code --plugins} directories; the subcommand's {@code @Inject} members are injected and it runs.
 *
 * <p>Exit codes: 0 success, 1 the command failed, 2 bad input (unknown option, missing directory, no command, a bad
 * recipe, data file, adapter folder or option value).
 * Every error is one line on standard error.
 */
public final class GraftMain {
    /** The system property holding the distribution's root folder. */
    public static final String GRAFT_HOME_PROPERTY = "graft.home";

    static final int EXIT_FAILURE = CommandLine.ExitCode.SOFTWARE;
    static final int EXIT_BAD_INPUT = CommandLine.ExitCode.USAGE;

    private GraftMain() {}

    /** Runs {@code graft} with {@code args} and exits with its exit code. */
    public static void main(String[] args) {
        Optional<Path> graftHome = Optional.ofNullable(System.getProperty(GRAFT_HOME_PROPERTY)).map(Path::of);
        PrintWriter out = new PrintWriter(System.out, true, Charset.defaultCharset());
        PrintWriter err = new PrintWriter(System.err, true, Charset.defaultCharset());
        System.exit(run(List.of(args), graftHome, out, err));
    }

    /**
     * Runs {@code graft} with {@code args}.
     *
     * @param graftHome the distribution's root, whose {@code plugins/} folder is searched first
     * @param out where results go
     * @param err where errors go, one line each
     * @return the exit code
     */
    public static int run(List<String> args, Optional<Path> graftHome, PrintWriter out, PrintWriter err) {
        requireNonNull(args, "args is null");
        requireNonNull(graftHome, "graftHome is null");
        requireNonNull(out, "out is null");
        requireNonNull(err, "err is null");
        CommandLine commandLine = new CommandLine(new GraftCommand());
        commandLine.setOut(out);
        commandLine.setErr(err);
        commandLine.setParameterExceptionHandler(GraftMain::reportBadInput);
        describeExitCodes(commandLine);
        commandLine.setExecutionExceptionHandler((exception, failed, parseResult) -> {
            failed.getErr().println(format("%s: %s", failed.getCommandSpec().qualifiedName(), describe(exception)));
            return isBadInput(exception) ? EXIT_BAD_INPUT : EXIT_FAILURE;
        });
        commandLine.setExecutionStrategy(parseResult -> execute(parseResult, graftHome));
        int exitCode;
        try {
            exitCode = commandLine.execute(args.toArray(new String[0]));
        }
        catch (OutOfMemoryError e) {
            err.println(format("graft: out of memory (%s). Give Java more: GRAFT_OPTS=-Xmx8g graft ..., or use a smaller batch_size or max_length", e.getMessage()));
            exitCode = EXIT_FAILURE;
        }
        out.flush();
        err.flush();
        return exitCode;
    }

    private static int execute(ParseResult parseResult, Optional<Path> graftHome) {
        Integer helpExitCode = CommandLine.executeHelpRequest(parseResult);
        if (helpExitCode != null) {
            return helpExitCode;
        }
        CommandLine command = leaf(parseResult).commandSpec().commandLine();
        if (command.getCommand() instanceof GraftCommand) {
            throw new ParameterException(command, "no command given");
        }
        Optional<PluginOptions> pluginOptions = pluginOptions(command);
        PluginConfiguration configuration = PluginConfiguration.of(graftHome, pluginOptions.map(PluginOptions::pluginDirectories).orElse(List.of()));
        if (pluginOptions.flatMap(PluginOptions::trustedPlugins).isPresent()) {
            configuration = configuration.withTrustedPlugins(pluginOptions.flatMap(PluginOptions::trustedPlugins).get());
        }
        List<PluginProblem> strictProblems;
        try {
            Injector injector = Guice.createInjector(new GraftModule(configuration));
            injector.injectMembers(command.getCommand());
            strictProblems = pluginOptions.map(PluginOptions::strict).orElse(false) ? injector.getInstance(MethodRegistry.class).problems() : List.of();
        }
        catch (RuntimeException e) {
            throw new CommandLine.ExecutionException(command, "cannot assemble the runtime: " + describe(e), e);
        }
        if (strictProblems.isEmpty()) {
            return new CommandLine.RunLast().execute(parseResult);
        }
        String count = format("%d plugin problem%s", strictProblems.size(), strictProblems.size() == 1 ? "" : "s");
        if (command.getCommand() instanceof MethodsCommand) {
            // the listing shows every problem; --strict only turns them into a failure
            new CommandLine.RunLast().execute(parseResult);
            command.getErr().println(format("%s: --strict: %s (listed above). Fix or remove those plugins, or run without --strict.",
                    command.getCommandSpec().qualifiedName(), count));
            return EXIT_FAILURE;
        }
        throw new CommandLine.ExecutionException(command, format("--strict: %s, so nothing ran: %s. Fix or remove those plugins (see 'graft methods'), or run without --strict",
                count, strictProblems.stream().map(PluginProblem::message).collect(joining(" | "))));
    }

    private static ParseResult leaf(ParseResult parseResult) {
        ParseResult current = parseResult;
        while (current.subcommand() != null) {
            current = current.subcommand();
        }
        return current;
    }

    private static Optional<PluginOptions> pluginOptions(CommandLine command) {
        for (Object mixin : command.getMixins().values()) {
            if (mixin instanceof PluginOptions) {
                return Optional.of((PluginOptions) mixin);
            }
        }
        return Optional.empty();
    }

    /** Lists the exit codes at the end of every command's {@code --help}. */
    private static void describeExitCodes(CommandLine commandLine) {
        Map<String, String> exitCodes = new LinkedHashMap<>();
        exitCodes.put("0", "Success.");
        exitCodes.put(String.valueOf(EXIT_FAILURE), "The command failed while working (the message says why).");
        exitCodes.put(String.valueOf(EXIT_BAD_INPUT), "Bad input: an unknown or missing option, a bad recipe, data file, adapter folder or value.");
        commandLine.getCommandSpec().usageMessage().exitCodeListHeading("%nExit codes:%n").exitCodeList(exitCodes);
        for (CommandLine subcommand : commandLine.getSubcommands().values()) {
            describeExitCodes(subcommand);
        }
    }

    /**
     * One line for a usage error. An unknown option is named first, with picocli's nearest option, even where a
     * required option is then missing too (a misspelt {@code --outptu} is the reason {@code --output} is missing).
     */
    private static int reportBadInput(ParameterException exception, String[] args) {
        CommandLine command = exception.getCommandLine();
        String message = exception.getMessage();
        List<String> unmatched = command.getUnmatchedArguments();
        if (!(exception instanceof UnmatchedArgumentException) && !unmatched.isEmpty()) {
            message = describeUnmatched(new UnmatchedArgumentException(command, unmatched));
        }
        else if (exception instanceof UnmatchedArgumentException) {
            message = describeUnmatched((UnmatchedArgumentException) exception);
        }
        command.getErr().println(format(
                "%s: %s%s Run '%s --help' for usage.",
                command.getCommandSpec().qualifiedName(), message, message.endsWith("?") ? "" : ".", command.getCommandSpec().qualifiedName()));
        return EXIT_BAD_INPUT;
    }

    private static String describeUnmatched(UnmatchedArgumentException exception) {
        String unknown = exception.getUnmatched().get(0);
        List<String> suggestions = exception.getSuggestions();
        String kind = unknown.startsWith("-") ? "Unknown option" : "Unexpected argument";
        if (suggestions.isEmpty()) {
            return format("%s: '%s'", kind, unknown);
        }
        return format("%s: '%s'. Did you mean '%s'?", kind, unknown, suggestions.get(0));
    }

    /**
     * Whether a command failed on what the user gave it (a recipe, a data file, an adapter folder, an option value)
     * rather than while working: exit code 2 instead of 1.
     */
    private static boolean isBadInput(Exception exception) {
        Throwable cause = exception;
        while (cause instanceof CommandLine.ExecutionException && cause.getCause() != null) {
            cause = cause.getCause();
        }
        return cause instanceof IllegalArgumentException
                || (cause instanceof GraftException && ((GraftException) cause).isBadInput());
    }

    private static String describe(Exception exception) {
        Throwable cause = exception;
        while (cause.getCause() != null && (cause.getMessage() == null || cause instanceof ProvisionException)) {
            cause = cause.getCause();
        }
        String message = cause.getMessage() == null ? cause.getClass().getName() : cause.getMessage();
        Optional<String> plugin = PluginFrames.locate(exception);
        if (plugin.isPresent()) {
            // plugin code threw: name the plugin and where, so the user knows whose code failed
            message = format("%s (thrown by %s)", message, plugin.get());
        }
        return message.replaceAll("\\s*\\R\\s*", " ").strip();
    }
}

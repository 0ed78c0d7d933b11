package dev.graft.runtime.cli;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import com.google.inject.Inject;
import dev.graft.runtime.plugin.LoadedMethod;
import dev.graft.runtime.plugin.MethodRegistry;
import dev.graft.runtime.plugin.PluginConfiguration;
import dev.graft.runtime.plugin.PluginProblem;
import dev.graft.runtime.recipe.NearestName;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code graft methods [ID] [--plugins DIR]...}: lists the loaded PEFT methods as a table (id, version, SPI version,
 * site kinds, mergeable, loaded from), then the plugins and methods that were skipped, one line each; with a method
 * id, that method's description, default targets and options (type, default, description).
 */
@Command(
        name = "methods",
        mixinStandardHelpOptions = true,
        description = "Lists the PEFT methods Graft can load, and the plugins it had to skip; with an ID, that method's options and their defaults.",
        footer = {"", "Examples:",
                "  graft methods",
                "  graft methods lora",
                "  graft methods --plugins my-plugins"})
public final class MethodsCommand implements Callable<Integer> {
    @Mixin
    private PluginOptions pluginOptions;

    @Parameters(arity = "0..1", paramLabel = "ID", description = "A method id (the ID column): show its options, their types and defaults.")
    private String methodId;

    @Spec
    private CommandSpec spec;

    private MethodRegistry registry;
    private PluginConfiguration configuration;

    /** Receives the runtime's services once the options are parsed (see {@link GraftMain}). */
    @Inject
    void setRuntime(MethodRegistry registry, PluginConfiguration configuration) {
        this.registry = requireNonNull(registry, "registry is null");
        this.configuration = requireNonNull(configuration, "configuration is null");
    }

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        if (methodId != null) {
            LoadedMethod method = registry.method(methodId).orElseThrow(() -> new ParameterException(spec.commandLine(), format(
                    "no method '%s' is loaded%s; loaded: %s", methodId,
                    NearestName.of(methodId, registry.ids()).map(nearest -> format(" (did you mean '%s'?)", nearest)).orElse(""),
                    registry.ids().isEmpty() ? "none" : String.join(", ", registry.ids()))));
            MethodOptionTable.render(method).forEach(out::println);
            out.flush();
            return 0;
        }
        for (String line : MethodTable.render(registry.methods())) {
            out.println(line);
        }
        if (registry.methods().isEmpty()) {
            List<String> searched = new ArrayList<>();
            searched.add("the class path");
            searched.addAll(configuration.pluginDirectories().stream().map(Path::toString).collect(Collectors.toList()));
            out.println(format("(no methods loaded; searched %s)", String.join(", ", searched)));
        }
        List<PluginProblem> problems = registry.problems();
        if (!problems.isEmpty()) {
            out.println();
            out.println(format("%d problem%s:", problems.size(), problems.size() == 1 ? "" : "s"));
            for (PluginProblem problem : problems) {
                out.println("  " + problem.message());
            }
        }
        out.flush();
        return 0;
    }
}

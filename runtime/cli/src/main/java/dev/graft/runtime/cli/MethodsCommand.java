package dev.graft.runtime.cli;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import com.google.inject.Inject;
import dev.graft.runtime.plugin.MethodRegistry;
import dev.graft.runtime.plugin.PluginConfiguration;
import dev.graft.runtime.plugin.PluginProblem;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code graft methods [--plugins DIR]...}: lists the loaded PEFT methods as a table (id, version, SPI version,
 * site kinds, mergeable, loaded from), then the plugins and methods that were skipped, one line each.
 */
@Command(
        name = "methods",
        mixinStandardHelpOptions = true,
        description = "Lists the PEFT methods Graft can load, and the plugins it had to skip.")
public final class MethodsCommand implements Callable<Integer> {
    @Mixin
    private PluginOptions pluginOptions;

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

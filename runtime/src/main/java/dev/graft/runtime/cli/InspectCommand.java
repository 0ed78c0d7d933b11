package dev.graft.runtime.cli;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDManager;
import com.google.inject.Inject;
import dev.graft.runtime.compose.ModelReport;
import dev.graft.runtime.compose.PeftModel;
import dev.graft.runtime.loader.LoadedModel;
import dev.graft.runtime.plugin.MethodRegistry;

import java.io.PrintWriter;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code graft inspect --model DIR|minilm [--adapter DIR]...}: prints what attaches where (adapter, method,
 * composition, site kind, site, tensor shapes) and PEFT's line
 * {@code trainable params: X || all params: Y || trainable%: Z}.
 */
@Command(name = "inspect", mixinStandardHelpOptions = true, description = "Shows which adapters attach where, and the trainable parameter count.")
public final class InspectCommand implements Callable<Integer> {
    @Mixin
    private PluginOptions pluginOptions;

    @Mixin
    private ModelOptions modelOptions;

    @Spec
    private CommandSpec spec;

    private MethodRegistry registry;

    @Inject
    void setRuntime(MethodRegistry registry) {
        this.registry = requireNonNull(registry, "registry is null");
    }

    @Override
    public Integer call() {
        try (NDManager manager = NDManager.newBaseManager();
                LoadedModel loaded = modelOptions.loadModel(manager)) {
            PeftModel model = new PeftModel(loaded.model());
            modelOptions.loadAdapters(model, registry);
            PrintWriter out = spec.commandLine().getOut();
            out.println(String.format("model: %s (%s, %d sites)", modelOptions.model(), loaded.model().modelType(), loaded.model().sites().size()));
            for (String line : ModelReport.attachmentLines(model)) {
                out.println(line);
            }
            out.println(ModelReport.trainableParametersLine(model));
            out.flush();
        }
        return 0;
    }
}

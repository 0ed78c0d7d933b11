package dev.graft.runtime.cli;

import static java.lang.String.format;

import dev.graft.runtime.loader.TinyLlama;
import dev.graft.runtime.model.LlamaConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code graft tiny-llama --output DIR}: writes a small random Llama in Hugging Face's layout, to try the Llama path without a download. */
@Command(name = "tiny-llama", mixinStandardHelpOptions = true,
        description = {"Writes a small Llama with random weights and a byte-level tokenizer in Hugging Face's layout (config.json, model.safetensors, "
                + "tokenizer.json), to try Graft's Llama path and the causal-LM example without downloading a model.",
                "It is untrained: its outputs mean nothing; use it as a smoke test, then point a recipe at a real Llama folder."})
public final class TinyLlamaCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Option(names = "--output", paramLabel = "DIR", required = true, description = "The folder to write (new or empty).")
    private Path output;

    @Option(names = "--layers", defaultValue = "2", description = "Decoder layers (default: ${DEFAULT-VALUE}).")
    private int layers;

    @Option(names = "--hidden", defaultValue = "64", description = "hidden_size (default: ${DEFAULT-VALUE}).")
    private int hidden;

    @Option(names = "--intermediate", defaultValue = "128", description = "intermediate_size of the MLP (default: ${DEFAULT-VALUE}).")
    private int intermediate;

    @Option(names = "--heads", defaultValue = "4", description = "Attention heads (default: ${DEFAULT-VALUE}).")
    private int heads;

    @Option(names = "--kv-heads", defaultValue = "2", description = "Key/value heads, dividing --heads (default: ${DEFAULT-VALUE}).")
    private int keyValueHeads;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of the random weights (default: ${DEFAULT-VALUE}).")
    private long seed;

    @Override
    public Integer call() {
        LlamaConfig config;
        try {
            if (layers <= 0 || intermediate <= 0) {
                throw new IllegalArgumentException(format("--layers (%d) and --intermediate (%d) must be positive", layers, intermediate));
            }
            config = TinyLlama.config(layers, hidden, intermediate, heads, keyValueHeads);
            TinyLlama.write(output, config, seed);
        }
        catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage(), e);
        }
        PrintWriter out = spec.commandLine().getOut();
        out.println(format("wrote a random Llama (%,d parameters, untrained: for trying Graft, not for real use) to %s", TinyLlama.parameterCount(config), output));
        out.flush();
        return 0;
    }
}

package dev.graft.runtime.cli;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.ParameterStore;
import com.google.inject.Inject;
import dev.graft.runtime.format.Dtype;
import dev.graft.runtime.format.SafetensorsFile;
import dev.graft.runtime.format.SafetensorsWriter;
import dev.graft.runtime.loader.LoadedModel;
import dev.graft.runtime.model.BertModel;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.plugin.MethodRegistry;
import dev.graft.runtime.task.Pooling;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;

import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code graft forward --model DIR|minilm [--adapter DIR]... [--merge] (--input FILE | --text TEXT...) --output FILE}:
 * runs the model (with adapters, optionally merged) and writes its outputs as float32 safetensors:
 * {@code logits} for a decoder, {@code last_hidden_state} and (where the model has a pooler) {@code pooler_output}
 * for an encoder.
 */
@Command(name = "forward", mixinStandardHelpOptions = true, description = "Runs a model, with PEFT adapters, on token ids or text and saves the outputs.",
        footer = {"", "Examples:",
                "  graft forward --model minilm --text \"hello world\" --pooling mean --output embeddings.safetensors",
                "  graft tiny-llama --output tiny && graft forward --model tiny --text \"Once upon a time\" --output logits.safetensors",
                "  graft forward --model path/to/llama --adapter path/to/peft-adapter --input ids.safetensors --output logits.safetensors"})
public final class ForwardCommand implements Callable<Integer> {
    @Mixin
    private PluginOptions pluginOptions;

    @Option(names = "--model", paramLabel = ModelOptions.MODEL_LABEL, required = true, description = ModelOptions.MODEL_DESCRIPTION)
    private String model;

    @Mixin
    private ModelOptions modelOptions;

    @Option(names = "--merge", description = "Merge the adapters into the base weights before running (methods that cannot merge are refused).")
    private boolean merge;

    @ArgGroup(exclusive = true, multiplicity = "1")
    private Inputs inputs;

    @Option(names = "--output", paramLabel = "FILE", required = true, description = "The safetensors file to write.")
    private Path output;

    @Option(names = "--pooling", paramLabel = "MODE", defaultValue = "none",
            description = "Encoders: also write sentence_embedding (batch, hidden), L2-normalised: mean (over the real tokens; what sentence-transformers "
                    + "returns for all-MiniLM-L6-v2), cls or pooler. Default: ${DEFAULT-VALUE}.")
    private String pooling;

    @Spec
    private CommandSpec spec;

    private MethodRegistry registry;

    static final class Inputs {
        @Option(names = "--input", paramLabel = "FILE", description = "A safetensors file with input_ids (and optionally attention_mask, token_type_ids).")
        private Path file;

        @Option(names = "--text", paramLabel = "TEXT", description = "A text to tokenize with the model's tokenizer. Repeatable: one batch row each, padded.")
        private List<String> texts;
    }

    @Inject
    void setRuntime(MethodRegistry registry) {
        this.registry = requireNonNull(registry, "registry is null");
    }

    @Override
    public Integer call() {
        if (inputs.texts != null) {
            TextInputs.requireNonBlank(spec, inputs.texts);
        }
        OutputTarget.checkFile(spec, output);
        try (NDManager manager = NDManager.newBaseManager();
                LoadedModel loaded = modelOptions.load(model, manager)) {
            PeftModel model = new PeftModel(loaded.model());
            List<String> adapters = modelOptions.loadAdapters(model, registry);
            if (merge) {
                model.merge(adapters);
            }
            NDList batch = inputs.file != null ? readInputs(inputs.file, manager) : tokenize(loaded, inputs.texts, manager);
            Optional<Pooling> sentencePooling = sentencePooling(loaded);
            NDList outputs = model.forward(new ParameterStore(manager, false), batch, false);
            List<String> names = new ArrayList<>("llama".equals(loaded.model().modelType()) ? List.of("logits") : List.of("last_hidden_state", "pooler_output"));
            List<NDArray> arrays = new ArrayList<>(outputs.subList(0, Math.min(names.size(), outputs.size())));
            names = names.subList(0, arrays.size());
            if (sentencePooling.isPresent()) {
                NDArray pooled = sentencePooling.get().pool(outputs, batch.get(1)).toType(DataType.FLOAT32, false);
                names.add("sentence_embedding");
                arrays.add(pooled.div(pooled.norm(new int[] {1}, true).maximum(1e-12f)));
            }
            SafetensorsWriter writer = new SafetensorsWriter().metadata("format", "pt");
            for (int index = 0; index < arrays.size(); index++) {
                writer.add(names.get(index), arrays.get(index).toType(DataType.FLOAT32, false), Dtype.F32);
            }
            writer.write(output);
            PrintWriter out = spec.commandLine().getOut();
            for (int index = 0; index < arrays.size(); index++) {
                out.println(format("%s %s -> %s", names.get(index), arrays.get(index).getShape(), output));
            }
            out.flush();
        }
        return 0;
    }

    /** The pooling of {@code --pooling}, checked against the model before anything runs. */
    private Optional<Pooling> sentencePooling(LoadedModel loaded) {
        if (pooling.equals("none")) {
            return Optional.empty();
        }
        if (!(loaded.model() instanceof BertModel)) {
            throw new ParameterException(spec.commandLine(), format("--pooling makes a sentence embedding of an encoder; %s is a %s decoder: leave --pooling out",
                    model, loaded.model().modelType()));
        }
        if (pooling.equals("auto") || !List.of("mean", "cls", "pooler").contains(pooling)) {
            throw new ParameterException(spec.commandLine(), format("--pooling '%s' is not known; use none, mean, cls or pooler", pooling));
        }
        try {
            return Optional.of(Pooling.resolve(pooling, ((BertModel) loaded.model()).config().addPoolingLayer()));
        }
        catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage().replace("task.pooling", "--pooling"), e);
        }
    }

    private static NDList readInputs(Path file, NDManager manager) {
        try (SafetensorsFile inputs = SafetensorsFile.open(file)) {
            if (!inputs.contains("input_ids")) {
                throw new IllegalArgumentException(format("%s has no input_ids tensor; it holds %s", file, inputs.names()));
            }
            NDList batch = new NDList(inputs.load("input_ids", manager).toType(DataType.INT64, false));
            NDArray mask = inputs.contains("attention_mask") ? inputs.load("attention_mask", manager).toType(DataType.INT64, false)
                    : batch.get(0).onesLike();
            batch.add(mask);
            if (inputs.contains("token_type_ids")) {
                batch.add(inputs.load("token_type_ids", manager).toType(DataType.INT64, false));
            }
            return batch;
        }
    }

    private static NDList tokenize(LoadedModel loaded, List<String> texts, NDManager manager) {
        HuggingFaceTokenizer tokenizer = loaded.tokenizer().orElseThrow(() -> new IllegalArgumentException(
                "the model has no tokenizer.json, so --text cannot be used; give token ids with --input FILE"));
        Encoding[] encodings = tokenizer.batchEncode(texts);
        int length = 0;
        for (Encoding encoding : encodings) {
            length = Math.max(length, encoding.getIds().length);
        }
        long[][] ids = new long[encodings.length][length];
        long[][] mask = new long[encodings.length][length];
        long[][] types = new long[encodings.length][length];
        for (int row = 0; row < encodings.length; row++) {
            long[] rowIds = encodings[row].getIds();
            long[] rowTypes = encodings[row].getTypeIds();
            // a tokenizer.json with a padding section pads the batch itself: its attention mask says which ids are real
            long[] rowMask = encodings[row].getAttentionMask();
            for (int column = 0; column < rowIds.length; column++) {
                ids[row][column] = rowIds[column];
                mask[row][column] = rowMask[column];
                types[row][column] = rowTypes[column];
            }
        }
        NDList batch = new NDList(manager.create(ids), manager.create(mask));
        if (!"llama".equals(loaded.model().modelType())) {
            batch.add(manager.create(types));
        }
        return batch;
    }
}

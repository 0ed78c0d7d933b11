package dev.graft.runtime.cli;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.training.ParameterStore;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.inject.Inject;
import dev.graft.runtime.data.Batches;
import dev.graft.runtime.data.DataFiles;
import dev.graft.runtime.data.DataFormat;
import dev.graft.runtime.data.Example;
import dev.graft.runtime.data.PaddedBatch;
import dev.graft.runtime.data.TokenizedExample;
import dev.graft.runtime.data.TrainingTokenizer;
import dev.graft.runtime.io.AtomicFiles;
import dev.graft.runtime.plugin.MethodRegistry;
import dev.graft.runtime.recipe.DataSection;
import dev.graft.runtime.task.TaskModel;
import dev.graft.runtime.task.TaskType;
import dev.graft.runtime.train.RoutedModel;
import dev.graft.runtime.train.TrainedModel;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.Callable;
import java.util.function.IntFunction;

import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code graft predict --adapter DIR (--input FILE | --text TEXT...)}: one JSON line per input with the predicted
 * label and the class probabilities (classification), or a greedy completion (causal LM). With
 * {@code --adapter-column FIELD} several {@code --adapter} folders share one base model and each input line runs with
 * the adapter its field names (mixed in a batch through {@code PeftModel.route}), with that adapter's head and labels.
 */
@Command(name = "predict", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Predicts with a trained adapter: the label and class probabilities of each text (classification), "
                + "or a greedily generated completion of each prompt (causal LM). One JSON line per input."},
        footer = {"", "Examples:",
                "  graft predict --adapter runs/quickstart --text \"WIN A FREE CRUISE, click now\" --text \"Minutes of Tuesday's meeting attached\"",
                "  graft predict --adapter runs/quickstart --input examples/data/spam-assassin/validation.jsonl --merge --output predictions.jsonl",
                "  graft predict --adapter runs/tiny-llama --text \"The capital of France is\" --max-new-tokens 8",
                "  graft predict --adapter runs/spam --adapter runs/sentiment --adapter-column task --input mixed.jsonl",
                "", "Exit codes: 0 done, 1 prediction failed, 2 bad input."})
public final class PredictCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Mixin
    private PluginOptions pluginOptions;

    @Mixin
    private DataOptions dataOptions;

    @ArgGroup(exclusive = true, multiplicity = "1")
    private Inputs inputs;

    @Option(names = "--merge", description = "Merge the adapters into the base weights first (mergeable, ungated adapters only); predictions stay the same.")
    private boolean merge;

    @Option(names = "--max-new-tokens", paramLabel = "N", defaultValue = "32", description = "The most tokens a completion gets (causal LM). Default: ${DEFAULT-VALUE}.")
    private int maxNewTokens;

    @Option(names = "--batch-size", paramLabel = "N", defaultValue = "32", description = "Texts per forward pass (classification). Default: ${DEFAULT-VALUE}.")
    private int batchSize;

    @Option(names = "--output", paramLabel = "FILE", description = "Write the JSON lines to FILE instead of standard output.")
    private Path output;

    @Option(names = "--adapter-column", paramLabel = "FIELD",
            description = {"Route each --input line to the adapter its FIELD names: give several --adapter (one base model, one adapter each); an adapter's "
                    + "name is its folder's name (a run's adapter/ folder: the run's). An empty or absent field means the base model (causal LM only). "
                    + "Each line gets its adapter's head and labels, and an \"adapter\" field."})
    private String adapterColumn;

    @Spec
    private CommandSpec spec;

    private MethodRegistry registry;

    static final class Inputs {
        @Option(names = "--input", paramLabel = "FILE", description = "A JSONL or CSV file whose text field (prompt field for a causal LM, else text) is read.")
        private Path file;

        @Option(names = "--text", paramLabel = "TEXT", description = "A text (or prompt) to predict for. Repeatable.")
        private List<String> texts;
    }

    @Inject
    void setRuntime(MethodRegistry registry) {
        this.registry = requireNonNull(registry, "registry is null");
    }

    @Override
    public Integer call() throws IOException {
        if (inputs.texts != null) {
            TextInputs.requireNonBlank(spec, inputs.texts);
        }
        if (output != null) {
            OutputTarget.checkFile(spec, output);
        }
        if (adapterColumn != null) {
            return routed();
        }
        try (TrainedModel trained = dataOptions.open(registry)) {
            DataSection settings = dataOptions.settings(trained);
            TaskModel task = trained.task();
            List<Example> examples = inputs.file == null ? List.of() : read(settings);
            List<String> texts = texts(settings, task.type(), examples);
            if (merge) {
                task.model().merge(List.copyOf(task.model().adapters().keySet()));
            }
            List<String> lines = new ArrayList<>();
            try (TrainingTokenizer tokenizer = trained.tokenizer(settings.maxLength())) {
                if (task.type() == TaskType.SEQUENCE_CLASSIFICATION) {
                    List<String> labels = task.head().orElseThrow().labels();
                    classify(tokenizer, texts, null, line -> labels, (scope, batch, start) -> {
                        NDList inputs = task.inputs(scope, batch.inputIds(), batch.attentionMask(), batch.tokenTypeIds());
                        float[] all = task.logits(new ParameterStore(scope, false), inputs, false).softmax(-1).toFloatArray();
                        List<float[]> rows = new ArrayList<>();
                        for (int row = 0; row < batch.size(); row++) {
                            rows.add(java.util.Arrays.copyOfRange(all, row * labels.size(), (row + 1) * labels.size()));
                        }
                        return rows;
                    }, trained.manager(), lines);
                }
                else {
                    complete(task, tokenizer, texts, null, (scope, inputs, index) -> task.logits(new ParameterStore(scope, false), inputs, false),
                            trained.loaded().endOfSequenceTokenId(), trained.manager(), lines);
                }
            }
            write(lines);
        }
        return 0;
    }

    /** {@code --adapter-column}: every --adapter on one base model, each input line run with the adapter its field names. */
    private Integer routed() throws IOException {
        if (inputs.file == null) {
            throw new IllegalArgumentException(format("--adapter-column %s reads each line's adapter from the --input file; --text gives no field: use --input", adapterColumn));
        }
        if (merge) {
            throw new IllegalArgumentException("--merge cannot go with --adapter-column: a merged adapter would reach every line; leave out --merge");
        }
        try (RoutedModel routed = dataOptions.openRouted(registry)) {
            DataSection settings = dataOptions.settings(routed.data());
            TaskModel task = routed.task();
            List<Example> examples = read(settings);
            List<String> texts = texts(settings, task.type(), examples);
            List<String> adapters = new ArrayList<>();
            for (Example example : examples) {
                String name = example.optional(adapterColumn).filter(value -> !value.isBlank()).orElse(null);
                if (name != null && !routed.adapterNames().contains(name)) {
                    throw new IllegalArgumentException(format("%s: field '%s' names adapter '%s', which is not loaded; loaded adapters: %s",
                            example.source(), adapterColumn, name, routed.adapterNames()));
                }
                if (name == null && task.type() == TaskType.SEQUENCE_CLASSIFICATION) {
                    throw new IllegalArgumentException(format("%s: field '%s' is empty or missing, but the base model has no classification head: "
                            + "name one of the loaded adapters %s", example.source(), adapterColumn, routed.adapterNames()));
                }
                adapters.add(name);
            }
            List<String> lines = new ArrayList<>();
            try (TrainingTokenizer tokenizer = routed.tokenizer(settings.maxLength())) {
                if (task.type() == TaskType.SEQUENCE_CLASSIFICATION) {
                    classify(tokenizer, texts, adapters, line -> routed.head(adapters.get(line)).labels(), (scope, batch, start) -> {
                        NDList inputs = task.inputs(scope, batch.inputIds(), batch.attentionMask(), batch.tokenTypeIds());
                        return routed.probabilities(new ParameterStore(scope, false), inputs, adapters.subList(start, start + batch.size()));
                    }, routed.manager(), lines);
                }
                else {
                    complete(task, tokenizer, texts, adapters,
                            (scope, inputs, index) -> routed.logits(new ParameterStore(scope, false), inputs, java.util.Collections.singletonList(adapters.get(index))),
                            routed.loaded().endOfSequenceTokenId(), routed.manager(), lines);
                }
            }
            write(lines);
        }
        return 0;
    }

    private List<Example> read(DataSection settings) {
        return DataFiles.read(inputs.file, DataFormat.valueOf(settings.format().toUpperCase(Locale.ROOT)));
    }

    private List<String> texts(DataSection settings, TaskType type, List<Example> examples) {
        if (inputs.texts != null) {
            for (String text : inputs.texts) {
                if (text.isBlank()) {
                    throw new IllegalArgumentException("--text is empty: give the text to predict for");
                }
            }
            return inputs.texts;
        }
        List<String> texts = new ArrayList<>();
        for (Example example : examples) {
            if (type == TaskType.CAUSAL_LM && example.optional(settings.promptField()).isPresent()) {
                texts.add(example.optional(settings.promptField()).get());
            }
            else {
                texts.add(example.require(settings.textField(), format("set --text-field to the field that holds the text%s",
                        type == TaskType.CAUSAL_LM ? format(" or --prompt-field to the one that holds the prompt") : "")));
            }
        }
        return texts;
    }

    /** The class probabilities of each row of a batch whose first line is {@code start}. */
    private interface BatchProbabilities {
        List<float[]> of(NDManager scope, PaddedBatch batch, int start);
    }

    /** The logits {@code (1, sequence, vocabulary)} of the prompt of line {@code index} with the tokens so far. */
    private interface PromptLogits {
        NDArray of(NDManager scope, NDList inputs, int index);
    }

    private void classify(TrainingTokenizer tokenizer, List<String> texts, List<String> adapters, IntFunction<List<String>> labelsOfLine,
            BatchProbabilities batchProbabilities, NDManager manager, List<String> lines) throws JsonProcessingException {
        for (int start = 0; start < texts.size(); start += batchSize) {
            List<TokenizedExample> examples = new ArrayList<>();
            for (int index = start; index < Math.min(texts.size(), start + batchSize); index++) {
                TrainingTokenizer.Encoded encoded = tokenizer.encode(texts.get(index));
                examples.add(new TokenizedExample(index, encoded.ids(), encoded.typeIds(), null, -1));
            }
            PaddedBatch batch = Batches.pad(examples, tokenizer.padTokenId());
            try (NDManager scope = manager.newSubManager()) {
                List<float[]> probabilities = batchProbabilities.of(scope, batch, start);
                for (int row = 0; row < batch.size(); row++) {
                    List<String> labels = labelsOfLine.apply(start + row);
                    float[] own = probabilities.get(row);
                    Map<String, Object> line = new LinkedHashMap<>();
                    line.put("text", texts.get(start + row));
                    if (adapters != null) {
                        line.put("adapter", adapters.get(start + row));
                    }
                    Map<String, Double> byLabel = new LinkedHashMap<>();
                    int best = 0;
                    for (int label = 0; label < labels.size(); label++) {
                        byLabel.put(labels.get(label), (double) own[label]);
                        if (own[label] > own[best]) {
                            best = label;
                        }
                    }
                    line.put("label", labels.get(best));
                    line.put("probabilities", byLabel);
                    lines.add(JSON.writeValueAsString(line));
                }
            }
        }
    }

    /** Greedy decoding, one prompt at a time, the whole sequence recomputed at each step (no key/value cache). */
    private void complete(TaskModel task, TrainingTokenizer tokenizer, List<String> prompts, List<String> adapters, PromptLogits promptLogits,
            OptionalLong endOfSequence, NDManager manager, List<String> lines) throws JsonProcessingException {
        int vocabulary = task.model().base().context().vocabularySize();
        for (int index = 0; index < prompts.size(); index++) {
            String prompt = prompts.get(index);
            List<Long> ids = new ArrayList<>();
            for (long id : tokenizer.encode(prompt).ids()) {
                ids.add(id);
            }
            List<Long> generated = new ArrayList<>();
            for (int step = 0; step < maxNewTokens; step++) {
                long next;
                try (NDManager scope = manager.newSubManager()) {
                    long[][] row = {ids.stream().mapToLong(Long::longValue).toArray()};
                    long[][] mask = {new long[row[0].length]};
                    java.util.Arrays.fill(mask[0], 1);
                    NDArray logits = promptLogits.of(scope, task.inputs(scope, row, mask, null), index);
                    next = logits.get(new NDIndex("0, -1, :{}", vocabulary)).argMax().getLong();
                }
                if (endOfSequence.isPresent() && next == endOfSequence.getAsLong()) {
                    break;
                }
                ids.add(next);
                generated.add(next);
            }
            Map<String, Object> line = new LinkedHashMap<>();
            line.put("prompt", prompt);
            if (adapters != null) {
                line.put("adapter", adapters.get(index));
            }
            line.put("completion", tokenizer.decode(generated.stream().mapToLong(Long::longValue).toArray()));
            lines.add(JSON.writeValueAsString(line));
        }
    }

    private void write(List<String> lines) throws IOException {
        if (output == null) {
            PrintWriter out = spec.commandLine().getOut();
            lines.forEach(out::println);
            out.flush();
            return;
        }
        AtomicFiles.write(output, String.join("\n", lines) + "\n");
        spec.commandLine().getOut().println(format("%d predictions -> %s", lines.size(), output));
        spec.commandLine().getOut().flush();
    }
}

package dev.graft.runtime.recipe;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * What to build and how to train it, as a YAML or JSON file: a model, the adapters to attach to it, and the
 * {@link TaskSection task}, {@link DataSection data}, {@link TrainingSection training} and {@link OutputSection output}
 * sections, each optional and each field with a default.
 * <pre>
 * model: minilm                 # or a Hugging Face model folder, relative to the recipe's folder
 * adapters:
 *   - name: lowrank
 *     method: lora
 *     composition: gated        # sum (default) or gated
 *     target_modules: [query, value]
 *     options: {r: 8, lora_alpha: 16}
 * task: {type: sequence-classification}
 * data: {train: data/train.jsonl, validation: data/validation.jsonl}
 * training: {epochs: 3, learning_rate: 5.0e-4}
 * output: {dir: runs/spam}
 * composition: {block: average, adapters: [lowrank, other], weights: [0.7, 0.3]}   # optional: a composition block
 * </pre>
 * An unknown field is an error naming it, its line and column, and the nearest valid name.
 *
 * @param model a Hugging Face model folder (absolute once read) or {@code minilm}
 * @param adapters the adapters, attached in order
 * @param task what the model learns to do
 * @param data the examples
 * @param training the optimizer, schedule, evaluation and checkpoints
 * @param output where the run goes
 * @param composition a composition block over the adapters ({@link RecipeComposition}), or null: each adapter as attached
 */
public record Recipe(
        @JsonProperty("model") String model,
        @JsonProperty("adapters") List<RecipeAdapter> adapters,
        @JsonProperty("task") TaskSection task,
        @JsonProperty("data") DataSection data,
        @JsonProperty("training") TrainingSection training,
        @JsonProperty("output") OutputSection output,
        @JsonProperty("composition") @JsonInclude(JsonInclude.Include.NON_NULL) RecipeComposition composition) {
    public Recipe {
        requireNonNull(model, "model is null");
        adapters = adapters == null ? List.of() : List.copyOf(adapters);
        task = task == null ? TaskSection.defaults() : task;
        data = data == null ? DataSection.defaults() : data;
        training = training == null ? TrainingSection.defaults() : training;
        output = output == null ? OutputSection.defaults() : output;
    }

    /** A recipe without a composition block. */
    public Recipe(String model, List<RecipeAdapter> adapters, TaskSection task, DataSection data, TrainingSection training, OutputSection output) {
        this(model, adapters, task, data, training, output, null);
    }

    /** A recipe of a model and adapters, every other section at its defaults. */
    public Recipe(String model, List<RecipeAdapter> adapters) {
        this(model, adapters, null, null, null, null);
    }

    /**
     * Reads a recipe (YAML, of which JSON is a subset); relative paths are resolved against the recipe's folder.
     *
     * @throws RecipeException naming the file, the line and the problem
     */
    public static Recipe read(Path file) {
        return RecipeReader.read(file, Map.of());
    }

    /**
     * Reads a recipe and replaces fields by dotted path first ({@code "training.learning_rate" -> 1e-4},
     * {@code "model" -> "/abs/folder"}); override values are used as given.
     *
     * @throws RecipeException naming the file, the line and the problem, or an unknown override path
     */
    public static Recipe read(Path file, Map<String, Object> overrides) {
        return RecipeReader.read(file, overrides);
    }

    public Recipe withAdapters(List<RecipeAdapter> newAdapters) {
        return new Recipe(model, newAdapters, task, data, training, output, composition);
    }

    public Recipe withTask(TaskSection newTask) {
        return new Recipe(model, adapters, newTask, data, training, output, composition);
    }

    public Recipe withData(DataSection newData) {
        return new Recipe(model, adapters, task, newData, training, output, composition);
    }

    public Recipe withTraining(TrainingSection newTraining) {
        return new Recipe(model, adapters, task, data, newTraining, output, composition);
    }

    public Recipe withComposition(RecipeComposition newComposition) {
        return new Recipe(model, adapters, task, data, training, output, newComposition);
    }

    public Recipe withOutput(OutputSection newOutput) {
        return new Recipe(model, adapters, task, data, training, newOutput, composition);
    }
}

package dev.graft.runtime.train;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.graft.runtime.compose.LinearSiteBlock;
import dev.graft.runtime.format.SafetensorsFile;
import dev.graft.runtime.format.SafetensorsWriter;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.spi.ArrayValues;
import dev.graft.spi.LinearWeights;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The trainer's part of a checkpoint, in its {@code state/} folder: every trainable tensor by its stable name
 * ({@code parameters.safetensors}, the exact values, including those PEFT's layout does not keep, such as prefix
 * tuning's projection), the optimizer's moments ({@code optimizer.safetensors}, {@code <name>.exp_avg} and
 * {@code <name>.exp_avg_sq}), the base weights a method replaced ({@code base_weights.safetensors}) and the
 * {@link TrainerState} ({@code trainer_state.json}). Restoring it into a run set up from the same recipe continues
 * that run bit for bit.
 */
public final class TrainingCheckpoint {
    static final String PARAMETERS = "parameters.safetensors";
    static final String OPTIMIZER = "optimizer.safetensors";
    static final String STATE = "trainer_state.json";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private TrainingCheckpoint() {}

    /** Writes the trainer's state into {@code folder} (which exists and is empty). */
    public static void write(Path folder, PeftTrainer trainer, ResettableAdamW optimizer, PeftModel model, TrainerState state) {
        Map<String, Parameter> parameters = trainer.namedTrainableParameters();
        LinkedHashMap<String, NDArray> values = new LinkedHashMap<>();
        LinkedHashMap<String, NDArray> moments = new LinkedHashMap<>();
        Map<String, Integer> steps = new LinkedHashMap<>();
        parameters.forEach((name, parameter) -> {
            values.put(name, parameter.getArray());
            optimizer.state(parameter.getId()).ifPresent(moment -> {
                moments.put(name + ".exp_avg", moment.mean());
                moments.put(name + ".exp_avg_sq", moment.variance());
                steps.put(name, moment.step());
            });
        });
        SafetensorsWriter.write(folder.resolve(PARAMETERS), values, Map.of("format", "graft-trainer"));
        SafetensorsWriter.write(folder.resolve(OPTIMIZER), moments, Map.of("format", "graft-trainer"));
        if (!trainer.replacedSites().isEmpty()) {
            SafetensorsWriter.write(folder.resolve(RunFolder.BASE_WEIGHTS), replacedBaseWeights(model, trainer), Map.of("format", "pt"));
        }
        TrainerState recorded = new TrainerState(state.step(), state.epoch(), state.batchInEpoch(), state.samples(), state.tokens(), state.trainingSeconds(),
                trainer.replacedSites(), steps, state.bestValue(), state.bestStep(), state.evaluationsWithoutImprovement(), state.lastEvaluationStep());
        try {
            Files.write(folder.resolve(STATE), JSON.writeValueAsBytes(recorded));
        }
        catch (IOException e) {
            throw new UncheckedIOException(format("cannot write %s: %s", folder.resolve(STATE), RunFolder.describe(e)), e);
        }
    }

    /** The base weights of the sites a method replaced, by Hugging Face key ({@code <site>.weight}, {@code <site>.bias}). */
    static LinkedHashMap<String, NDArray> replacedBaseWeights(PeftModel model, PeftTrainer trainer) {
        LinkedHashMap<String, NDArray> weights = new LinkedHashMap<>();
        for (String site : trainer.replacedSites()) {
            LinearWeights current = model.base().linearSite(site).weights();
            weights.put(site + ".weight", current.weight());
            if (current.hasBias()) {
                weights.put(site + ".bias", current.bias());
            }
        }
        return weights;
    }

    /**
     * Loads base weights saved by {@link #replacedBaseWeights} into {@code model} (in place, keeping the base frozen).
     *
     * @return the sites whose weights were loaded
     * @throws IllegalArgumentException naming the key on a weight the model does not have
     */
    public static Set<String> loadBaseWeights(Path file, PeftModel model) {
        Set<String> sites = new TreeSet<>();
        try (NDManager scratch = NDManager.newBaseManager(); SafetensorsFile weights = SafetensorsFile.open(file)) {
            Map<String, NDArray> bySite = new LinkedHashMap<>();
            for (String key : weights.names()) {
                if (!key.endsWith(".weight") && !key.endsWith(".bias")) {
                    throw new IllegalArgumentException(format("%s: key %s is not a linear weight or bias", file, key));
                }
                bySite.put(key, weights.load(key, scratch));
                sites.add(key.substring(0, key.lastIndexOf('.')));
            }
            for (String site : sites) {
                LinearSiteBlock block = model.base().linearSite(site);
                NDArray weight = bySite.get(site + ".weight");
                if (weight == null) {
                    throw new IllegalArgumentException(format("%s has %s.bias but no %s.weight", file, site, site));
                }
                block.replaceWeights(new LinearWeights(weight, bySite.get(site + ".bias")));
            }
        }
        return sites;
    }

    /**
     * Restores a checkpoint's {@code state/} folder into a run set up from the same recipe: the trainable tensors, the
     * optimizer's moments and step counts, replaced base weights, and the trainer's counters.
     *
     * @throws IllegalStateException when the checkpoint does not fit the run (another recipe)
     */
    public static TrainerState restore(Path folder, PeftTrainer trainer, ResettableAdamW optimizer, PeftModel model) {
        requireNonNull(folder, "folder is null");
        TrainerState state;
        try {
            state = JSON.readValue(folder.resolve(STATE).toFile(), TrainerState.class);
        }
        catch (IOException e) {
            throw new IllegalStateException(format("cannot read %s: %s", folder.resolve(STATE), e.getMessage()), e);
        }
        Map<String, Parameter> parameters = trainer.namedTrainableParameters();
        try (SafetensorsFile values = SafetensorsFile.open(folder.resolve(PARAMETERS));
                SafetensorsFile moments = SafetensorsFile.open(folder.resolve(OPTIMIZER));
                NDManager scratch = NDManager.newBaseManager()) {
            if (!new TreeSet<>(values.names()).equals(new TreeSet<>(parameters.keySet()))) {
                throw new IllegalStateException(format("checkpoint %s holds other trainable tensors than this run has: it was written by another recipe. "
                        + "Resume with the run's own recipe.yaml", folder));
            }
            for (Map.Entry<String, Parameter> entry : parameters.entrySet()) {
                NDArray target = entry.getValue().getArray();
                NDArray saved = values.load(entry.getKey(), scratch);
                if (!saved.getShape().equals(target.getShape())) {
                    throw new IllegalStateException(format("checkpoint tensor %s has shape %s, the run's has %s", entry.getKey(), saved.getShape(), target.getShape()));
                }
                ArrayValues.copy(target, saved);
                Integer step = state.optimizerSteps().get(entry.getKey());
                if (step != null) {
                    optimizer.restore(entry.getValue().getId(), target, new ResettableAdamW.State(
                            moments.load(entry.getKey() + ".exp_avg", scratch), moments.load(entry.getKey() + ".exp_avg_sq", scratch), step));
                }
                else {
                    optimizer.reset(entry.getValue().getId());
                }
            }
        }
        Path baseWeights = folder.resolve(RunFolder.BASE_WEIGHTS);
        if (Files.isRegularFile(baseWeights)) {
            loadBaseWeights(baseWeights, model);
        }
        trainer.restoreCounters(state.step(), state.samples(), state.epoch(), state.replacedSites());
        return state;
    }
}

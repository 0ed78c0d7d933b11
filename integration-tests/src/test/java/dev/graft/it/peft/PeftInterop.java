package dev.graft.it.peft;

import static java.util.Objects.requireNonNull;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.nn.Parameter;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.graft.runtime.format.Dtype;
import dev.graft.runtime.format.SafetensorsFile;
import dev.graft.runtime.peft.Adapter;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.store.AdapterStore;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The checks every PEFT format gets on an {@link InteropModel}: a folder Python PEFT wrote loads into Graft and
 * computes what PEFT computes, unmerged and (where the method merges) merged, and saves back unchanged; and an adapter
 * Graft attaches and saves is the folder PEFT would write, and reloads to the same outputs.
 */
final class PeftInterop {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final InteropModel testModel;
    private final Path scratch;

    PeftInterop(InteropModel testModel, Path scratch) {
        this.testModel = requireNonNull(testModel, "testModel is null");
        this.scratch = requireNonNull(scratch, "scratch is null");
    }

    /**
     * Writes {@code scenario}'s PEFT folder, loads it through {@link AdapterStore#load} with the method found by
     * {@code peft_type}, and checks Graft's outputs against the oracle's for the scenario's {@link PeftEffect}, unmerged
     * and then after {@code merge}; an adapter that cannot merge (prompt learning) must refuse {@code merge} with a
     * message that says so, and leave the outputs as they were. Fields the method does not know give exactly one
     * warning line and are kept.
     */
    void assertLoadsLikePeft(PeftScenario scenario) throws IOException {
        Path folder = scratch.resolve(scenario.name() + "-from-peft");
        scenario.peft().writeTo(folder);
        double[][][] expected = testModel.expectedOutputs(scenario.effect());
        assertThat(testModel.maxDifference(expected, testModel.expectedOutputs(PeftEffect.none())))
                .as("the adapter moves the outputs well beyond the tolerance, so the comparison can fail")
                .isGreaterThan(100 * InteropModel.TOLERANCE);

        PeftModel model = testModel.newModel();
        Loaded loaded = loadCapturingWarnings(model, folder);
        if (scenario.fieldsGraftDoesNotKnow().isEmpty()) {
            assertThat(loaded.storeWarnings()).isEmpty();
        }
        else {
            assertThat(loaded.storeWarnings()).singleElement().asString().contains(scenario.fieldsGraftDoesNotKnow().toString());
        }
        assertThat(loaded.adapter().spec().extraConfig()).containsOnlyKeys(scenario.fieldsGraftDoesNotKnow());

        float[] unmerged = testModel.outputs(model);
        assertThat(testModel.maxDifference(unmerged, expected)).as("unmerged outputs against PEFT's").isLessThanOrEqualTo(InteropModel.TOLERANCE);
        if (!scenario.effect().mergeable()) {
            assertThatThrownBy(() -> model.merge(List.of("default")))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContainingAll("'default'", "'" + loaded.adapter().descriptor().id() + "'", "cannot be merged", "run it unmerged");
            assertThat(loaded.adapter().isMerged()).isFalse();
            assertThat(testModel.outputs(model)).isEqualTo(unmerged);
            return;
        }
        model.merge(List.of("default"));
        assertThat(loaded.adapter().isMerged()).isTrue();
        assertThat(testModel.maxDifference(testModel.outputs(model), expected)).as("merged outputs against PEFT's").isLessThanOrEqualTo(InteropModel.TOLERANCE);
    }

    /**
     * Attaches {@code scenario}'s configuration with Graft, moves every trainable tensor off its initial value, saves
     * with {@link AdapterStore#save}, and checks that the file holds exactly the keys, with the shapes, of the PEFT
     * folder, and that the saved folder reloads to bit-identical outputs.
     */
    void assertSavesLikePeft(PeftScenario scenario) throws IOException {
        PeftModel model = testModel.newModel();
        float[] baseOutputs = testModel.outputs(model);
        Adapter adapter = model.addAdapter(scenario.graftSpec("default"), PeftMethods.byPeftType(scenario.peft().peftType()));
        Random random = new Random(scenario.name().hashCode());
        for (Parameter parameter : adapter.trainableParameters()) {
            float[] values = parameter.getArray().toFloatArray();
            for (int index = 0; index < values.length; index++) {
                values[index] += (float) (0.2 * random.nextGaussian());
            }
            parameter.getArray().set(values);
        }
        float[] attachedOutputs = testModel.outputs(model);
        assertThat(attachedOutputs).isNotEqualTo(baseOutputs);

        Path folder = scratch.resolve(scenario.name() + "-from-graft");
        AdapterStore.save(model, "default", folder, testModel.base().nameOrPath());
        try (SafetensorsFile saved = SafetensorsFile.open(folder.resolve(AdapterStore.WEIGHTS_FILE))) {
            assertThat(saved.names()).containsExactlyInAnyOrderElementsOf(scenario.peft().tensors().keySet());
            for (Map.Entry<String, PlainTensor> tensor : scenario.peft().tensors().entrySet()) {
                assertThat(saved.info(tensor.getKey()).shape()).as("shape of %s", tensor.getKey()).isEqualTo(tensor.getValue().shape());
            }
        }

        PeftModel reloaded = testModel.newModel();
        loadCapturingWarnings(reloaded, folder);
        assertThat(testModel.outputs(reloaded)).isEqualTo(attachedOutputs);
    }

    /**
     * Loads {@code scenario}'s PEFT folder and saves it again with {@link AdapterStore#save}: the file holds PEFT's
     * tensors bit for bit, as float32, and the config every field PEFT wrote with its value (numbers compared as
     * numbers: Graft writes {@code lora_alpha: 16} as {@code 16.0}), {@code auto_mapping} aside, which Graft does not
     * write and PEFT reads as its default, null.
     */
    void assertResavesAsPeft(PeftScenario scenario) throws IOException {
        Path folder = scratch.resolve(scenario.name() + "-from-peft");
        scenario.peft().writeTo(folder);
        PeftModel model = testModel.newModel();
        loadCapturingWarnings(model, folder);
        Path resaved = scratch.resolve(scenario.name() + "-resaved");
        AdapterStore.save(model, "default", resaved, testModel.base().nameOrPath());

        try (SafetensorsFile saved = SafetensorsFile.open(resaved.resolve(AdapterStore.WEIGHTS_FILE))) {
            assertThat(saved.names()).containsExactlyInAnyOrderElementsOf(scenario.peft().tensors().keySet());
            for (Map.Entry<String, PlainTensor> tensor : scenario.peft().tensors().entrySet()) {
                assertThat(saved.info(tensor.getKey()).dtype()).as("dtype of %s", tensor.getKey()).isEqualTo(Dtype.F32);
                assertThat(saved.data(tensor.getKey())).as("bytes of %s", tensor.getKey()).isEqualTo(tensor.getValue().littleEndianBytes());
            }
        }
        Map<String, Object> config = JSON.readValue(resaved.resolve(AdapterStore.CONFIG_FILE).toFile(), new TypeReference<LinkedHashMap<String, Object>>() {});
        Map<String, Object> expected = new LinkedHashMap<>(scenario.peft().config());
        expected.remove("auto_mapping");
        assertThat(config).containsKeys(expected.keySet().toArray(String[]::new));
        expected.forEach((field, value) -> assertThat(numbersAsDoubles(config.get(field))).as("field %s", field).isEqualTo(numbersAsDoubles(value)));
    }

    private static Object numbersAsDoubles(Object value) {
        if (value instanceof Number) {
            return ((Number) value).doubleValue();
        }
        if (value instanceof List<?>) {
            return ((List<?>) value).stream().map(PeftInterop::numbersAsDoubles).toList();
        }
        if (value instanceof Map<?, ?>) {
            Map<Object, Object> converted = new LinkedHashMap<>();
            ((Map<?, ?>) value).forEach((key, element) -> converted.put(key, numbersAsDoubles(element)));
            return converted;
        }
        return value;
    }

    /**
     * Loads the folder as {@code default}, collecting the lines the store logs meanwhile (slf4j-simple writes them to
     * {@code System.err}, which is restored and given the lines afterwards).
     */
    static Loaded loadCapturingWarnings(PeftModel model, Path folder) {
        PrintStream original = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        Adapter adapter;
        try (PrintStream capture = new PrintStream(captured, true, StandardCharsets.UTF_8)) {
            System.setErr(capture);
            adapter = AdapterStore.load(model, folder, "default", PeftMethods::byPeftType);
        }
        finally {
            System.setErr(original);
            original.print(captured.toString(StandardCharsets.UTF_8));
        }
        List<String> storeLines = captured.toString(StandardCharsets.UTF_8).lines().filter(line -> line.contains(AdapterStore.class.getName())).toList();
        return new Loaded(adapter, storeLines);
    }

    /**
     * An adapter loaded from a folder, with what the store logged.
     *
     * @param adapter the adapter
     * @param storeWarnings the lines {@link AdapterStore} logged while loading it
     */
    record Loaded(Adapter adapter, List<String> storeWarnings) {}
}

package dev.graft.it.peft;

import static java.util.Objects.requireNonNull;
import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.nn.Parameter;
import dev.graft.runtime.compose.Adapter;
import dev.graft.runtime.compose.PeftModel;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.graft.runtime.format.Dtype;
import dev.graft.runtime.format.SafetensorsFile;
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
 * The checks every PEFT format gets: a folder Python PEFT wrote loads into Graft and computes what PEFT computes,
 * unmerged and merged, and saves back unchanged; and an adapter Graft attaches and saves is the folder PEFT would
 * write, and reloads to the same outputs.
 */
final class PeftInterop {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final TinyLlama llama;
    private final Path scratch;

    PeftInterop(TinyLlama llama, Path scratch) {
        this.llama = requireNonNull(llama, "llama is null");
        this.scratch = requireNonNull(scratch, "scratch is null");
    }

    /**
     * Writes {@code scenario}'s PEFT folder, loads it through {@link AdapterStore#load} with the method found by
     * {@code peft_type}, and checks Graft's logits against the reference forward over hand-merged weights, unmerged
     * and then after {@code merge}. Fields the method does not know give exactly one warning line and are kept.
     */
    void assertLoadsLikePeft(PeftScenario scenario) throws IOException {
        Path folder = scratch.resolve(scenario.name() + "-from-peft");
        scenario.peft().writeTo(folder);
        Map<String, double[]> merged = llama.baseWeights();
        scenario.handMerge().accept(new HandMerge(llama.config(), merged));
        double[][][] expected = llama.referenceLogits(merged);
        assertThat(TinyLlama.maxDifference(expected, llama.referenceLogits(llama.baseWeights())))
                .as("the adapter moves the logits well beyond the tolerance, so the comparison can fail")
                .isGreaterThan(100 * TinyLlama.TOLERANCE);

        PeftModel model = llama.newModel();
        Loaded loaded = loadCapturingWarnings(model, folder);
        if (scenario.fieldsGraftDoesNotKnow().isEmpty()) {
            assertThat(loaded.storeWarnings()).isEmpty();
        }
        else {
            assertThat(loaded.storeWarnings()).singleElement().asString().contains(scenario.fieldsGraftDoesNotKnow().toString());
        }
        assertThat(loaded.adapter().spec().extraConfig()).containsOnlyKeys(scenario.fieldsGraftDoesNotKnow());

        assertThat(TinyLlama.maxDifference(llama.logits(model), expected)).as("unmerged logits against PEFT's").isLessThanOrEqualTo(TinyLlama.TOLERANCE);
        model.merge(List.of("default"));
        assertThat(loaded.adapter().isMerged()).isTrue();
        assertThat(TinyLlama.maxDifference(llama.logits(model), expected)).as("merged logits against PEFT's").isLessThanOrEqualTo(TinyLlama.TOLERANCE);
    }

    /**
     * Attaches {@code scenario}'s configuration with Graft, moves every trainable tensor off its initial value, saves
     * with {@link AdapterStore#save}, and checks that the file holds exactly the keys, with the shapes, of the PEFT
     * folder, and that the saved folder reloads to bit-identical logits.
     */
    void assertSavesLikePeft(PeftScenario scenario) throws IOException {
        PeftModel model = llama.newModel();
        float[] baseLogits = llama.logits(model);
        Adapter adapter = model.addAdapter(scenario.graftSpec("default"), PeftMethods.byPeftType(scenario.peft().peftType()));
        Random random = new Random(scenario.name().hashCode());
        for (Parameter parameter : adapter.trainableParameters()) {
            float[] values = parameter.getArray().toFloatArray();
            for (int index = 0; index < values.length; index++) {
                values[index] += (float) (0.2 * random.nextGaussian());
            }
            parameter.getArray().set(values);
        }
        float[] attachedLogits = llama.logits(model);
        assertThat(attachedLogits).isNotEqualTo(baseLogits);

        Path folder = scratch.resolve(scenario.name() + "-from-graft");
        AdapterStore.save(model, "default", folder, PeftConfigs.BASE_MODEL);
        try (SafetensorsFile saved = SafetensorsFile.open(folder.resolve(AdapterStore.WEIGHTS_FILE))) {
            assertThat(saved.names()).containsExactlyInAnyOrderElementsOf(scenario.peft().tensors().keySet());
            for (Map.Entry<String, PlainTensor> tensor : scenario.peft().tensors().entrySet()) {
                assertThat(saved.info(tensor.getKey()).shape()).as("shape of %s", tensor.getKey()).isEqualTo(tensor.getValue().shape());
            }
        }

        PeftModel reloaded = llama.newModel();
        loadCapturingWarnings(reloaded, folder);
        assertThat(llama.logits(reloaded)).isEqualTo(attachedLogits);
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
        PeftModel model = llama.newModel();
        loadCapturingWarnings(model, folder);
        Path resaved = scratch.resolve(scenario.name() + "-resaved");
        AdapterStore.save(model, "default", resaved, PeftConfigs.BASE_MODEL);

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

package dev.graft.plugin.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.training.loss.Loss;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.model.LlamaConfig;
import dev.graft.runtime.model.LlamaForCausalLM;
import dev.graft.runtime.model.LlamaWeights;
import dev.graft.runtime.peft.Adapter;
import dev.graft.runtime.peft.AdapterSpec;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.targeting.TargetRules;
import dev.graft.runtime.train.PeftTrainer;
import dev.graft.runtime.train.ResettableAdamW;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Several named LoRA adapters on one model: activation, trainability, names and deletion, as PEFT users expect. */
final class TestLoraManyAdapters {
    private NDManager manager;
    private PeftModel model;

    @BeforeEach
    void setUp() {
        manager = NDManager.newBaseManager();
        NDManager modelManager = manager.newSubManager();
        model = new PeftModel(LlamaForCausalLM.create(LlamaConfig.tiny(), LlamaWeights.random(LlamaConfig.tiny(), modelManager, 4), modelManager, null));
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    @Test
    void testActivationChoosesWhatRunsAndContributionsAdd() {
        float[] base = logits();
        add("first", List.of("q_proj"));
        add("second", List.of("v_proj"));
        float[] both = logits();
        model.setActiveAdapters(List.of("first"));
        float[] first = logits();
        model.setActiveAdapters(List.of("second"));
        float[] second = logits();
        model.setActiveAdapters(List.of());
        assertThat(logits()).as("every adapter inactive runs the base").isEqualTo(base);
        assertThat(model.activeAdapters()).isEmpty();
        assertThat(first).isNotEqualTo(base);
        assertThat(second).isNotEqualTo(first);
        model.setActiveAdapters(List.of("first", "second"));
        assertThat(model.activeAdapters()).containsExactly("first", "second");
        assertThat(logits()).isEqualTo(both);
    }

    @Test
    void testTrainabilityIsSeparateFromActivation() {
        Adapter first = add("first", List.of("q_proj"));
        Adapter second = add("second", List.of("v_proj"));
        model.setTrainable("first", false);
        assertThat(first.isActive()).as("freezing keeps the adapter active").isTrue();
        List<float[]> frozenBefore = values(first.trainableParameters());
        List<float[]> trainedBefore = values(second.trainableParameters());
        try (PeftTrainer trainer = PeftTrainer.create(model, ResettableAdamW.builder().optLearningRate(0.01f).build(), Loss.l2Loss())) {
            for (int step = 0; step < 2; step++) {
                try (NDManager batch = manager.newSubManager()) {
                    trainer.step(new NDList(batch.create(new long[][] {{1, 2, 3}})), new NDList(batch.ones(new Shape(1, 3, 128), DataType.FLOAT32)));
                }
            }
        }
        assertThat(values(first.trainableParameters())).as("a frozen, active adapter is not trained").containsExactlyElementsOf(frozenBefore);
        assertThat(values(second.trainableParameters()).get(1)).isNotEqualTo(trainedBefore.get(1));
        assertThat(model.trainableParameterCount()).isEqualTo(4L * (64 + 32) * 2);
    }

    @Test
    void testNamesCollidingWithKeyPrefixesAndDuplicatesAreRejected() {
        add("default", List.of("q_proj"));
        assertThatThrownBy(() -> add("lora", List.of("q_proj"))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("adapter name 'lora' collides with checkpoint key prefixes of method 'lora'");
        assertThatThrownBy(() -> add("lora_A", List.of("q_proj"))).hasMessageContaining("collides");
        assertThatThrownBy(() -> add("weight", List.of("q_proj"))).hasMessageContaining("collides");
        assertThatThrownBy(() -> add("default", List.of("q_proj"))).hasMessageContaining("an adapter named 'default' already exists");
        assertThatThrownBy(() -> add("has.dot", List.of("q_proj"))).hasMessageContaining("is invalid");
        assertThat(model.adapters()).containsOnlyKeys("default");
    }

    @Test
    void testDeletingAnAdapterRemovesItsParametersAndItsEffect() {
        float[] base = logits();
        add("first", List.of("q_proj"));
        model.deleteAdapter("first");
        assertThat(model.adapters()).isEmpty();
        assertThat(model.trainableParameterCount()).isZero();
        assertThat(logits()).isEqualTo(base);
        assertThatThrownBy(() -> model.setActiveAdapters(List.of("first"))).hasMessageContaining("no adapter named 'first'");
    }

    private Adapter add(String name, List<String> targets) {
        Adapter adapter = model.addAdapter(new AdapterSpec(name, Map.of("r", 4), TargetRules.fromConfig(Map.of("target_modules", targets)), Composition.SUM), new LoraMethod());
        adapter.trainableParameters().forEach(parameter -> parameter.getArray().addi(manager.randomNormal(0f, 0.2f, parameter.getArray().getShape(), DataType.FLOAT32)));
        return adapter;
    }

    private static List<float[]> values(List<Parameter> parameters) {
        List<float[]> values = new ArrayList<>();
        parameters.forEach(parameter -> values.add(parameter.getArray().toFloatArray()));
        return values;
    }

    private float[] logits() {
        try (NDManager batch = manager.newSubManager()) {
            return model.forward(new ParameterStore(batch, false), new NDList(batch.create(new long[][] {{9, 8, 7, 6}})), false).singletonOrThrow().toFloatArray();
        }
    }
}

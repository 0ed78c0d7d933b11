package dev.graft.plugin.lora;

import static dev.graft.tck.ArrayAssertions.assertClose;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.model.LlamaConfig;
import dev.graft.runtime.model.LlamaForCausalLM;
import dev.graft.runtime.model.LlamaWeights;
import dev.graft.runtime.peft.Adapter;
import dev.graft.runtime.peft.AdapterSpec;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.peft.WeightedCombination;
import dev.graft.runtime.targeting.TargetRules;
import dev.graft.spi.LowRankModule;
import dev.graft.spi.Site;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** PEFT's add_weighted_adapter semantics on real LoRA adapters. */
final class TestLoraWeightedCombination {
    private static final Map<String, Object> TARGETS = Map.of("target_modules", List.of("q_proj", "v_proj"));

    private NDManager manager;
    private PeftModel model;

    @BeforeEach
    void setUp() {
        manager = NDManager.newBaseManager();
        NDManager modelManager = manager.newSubManager();
        model = new PeftModel(LlamaForCausalLM.create(LlamaConfig.tiny(), LlamaWeights.random(LlamaConfig.tiny(), modelManager, 5), modelManager, null));
        add("first", Map.of("r", 4, "lora_alpha", 8));
        add("second", Map.of("r", 4, "lora_alpha", 16, "use_rslora", true));
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    @Test
    void testCatIsExactAndHasScalingOne() {
        Adapter combined = WeightedCombination.combine(model, List.of("first", "second"), List.of(0.7, -0.3), WeightedCombination.Type.CAT, "mix", 0);
        assertThat(combined.isActive()).isFalse();
        for (Site site : combined.sites()) {
            LowRankModule module = module(combined, site);
            assertThat(module.factorA().getShape().get(0)).isEqualTo(8);
            assertThat(module.scaling()).isEqualTo(1f);
            assertClose(delta(module), expectedDelta(site, 0.7, -0.3), 1e-5);
        }
    }

    @Test
    void testCombinedAdapterAloneEqualsBothActive() {
        model.setActiveAdapters(List.of("first", "second"));
        float[] both = logits();
        WeightedCombination.combine(model, List.of("first", "second"), List.of(1.0, 1.0), WeightedCombination.Type.CAT, "mix", 0);
        model.setActiveAdapters(List.of("mix"));
        float[] combined = logits();
        for (int index = 0; index < both.length; index++) {
            assertThat(combined[index]).isCloseTo(both[index], offset(1e-4f));
        }
    }

    @Test
    void testSvdAtFullRankIsExactAndTruncationIsOrthogonal() {
        Adapter full = WeightedCombination.combine(model, List.of("first", "second"), List.of(0.5, 2.0), WeightedCombination.Type.SVD, "full", 8);
        Adapter truncated = WeightedCombination.combine(model, List.of("first", "second"), List.of(0.5, 2.0), WeightedCombination.Type.SVD, "two", 2);
        for (Site site : full.sites()) {
            NDArray expected = expectedDelta(site, 0.5, 2.0);
            assertClose(delta(module(full, site)), expected, 1e-5);
            NDArray approximation = delta(module(truncated, site));
            assertThat(module(truncated, site).factorA().getShape().get(0)).isEqualTo(2);
            NDArray residual = expected.sub(approximation);
            float inner = residual.mul(approximation).sum().getFloat();
            assertThat(inner).as("the residual of a truncated SVD is orthogonal to the approximation at %s", site.name())
                    .isCloseTo(0f, offset(1e-5f * approximation.square().sum().getFloat() + 1e-7f));
            assertThat(residual.square().sum().getFloat()).isLessThan(expected.square().sum().getFloat());
        }
    }

    @Test
    void testLinearFollowsPeftAndNeedsEqualRanks() {
        Adapter combined = WeightedCombination.combine(model, List.of("first", "second"), List.of(0.7, -0.3), WeightedCombination.Type.LINEAR, "mix", 0);
        for (Site site : combined.sites()) {
            LowRankModule first = module(model.adapter("first"), site);
            LowRankModule second = module(model.adapter("second"), site);
            double firstProduct = 0.7 * first.scaling();
            double secondProduct = -0.3 * second.scaling();
            NDArray a = first.factorA().mul(Math.sqrt(Math.abs(firstProduct))).add(second.factorA().mul(-Math.sqrt(Math.abs(secondProduct))));
            NDArray b = first.factorB().mul(Math.sqrt(Math.abs(firstProduct))).add(second.factorB().mul(Math.sqrt(Math.abs(secondProduct))));
            assertClose(delta(module(combined, site)), b.matMul(a), 1e-5);
        }
        add("wide", Map.of("r", 6));
        assertThatThrownBy(() -> WeightedCombination.combine(model, List.of("first", "wide"), List.of(1.0, 1.0), WeightedCombination.Type.LINEAR, "bad", 0))
                .hasMessageContaining("linear combination needs equal ranks").hasMessageContaining("use cat or svd");
    }

    private void add(String name, Map<String, Object> options) {
        Adapter adapter = model.addAdapter(new AdapterSpec(name, options, TargetRules.fromConfig(TARGETS), Composition.SUM), new LoraMethod());
        adapter.trainableParameters().forEach(parameter -> parameter.getArray().addi(manager.randomNormal(0f, 0.2f, parameter.getArray().getShape(), parameter.getArray().getDataType())));
    }

    private static LowRankModule module(Adapter adapter, Site site) {
        return (LowRankModule) adapter.attachments().get(site).module();
    }

    private NDArray expectedDelta(Site site, double firstWeight, double secondWeight) {
        LowRankModule first = module(model.adapter("first"), site);
        LowRankModule second = module(model.adapter("second"), site);
        return delta(first).mul(firstWeight).add(delta(second).mul(secondWeight));
    }

    private static NDArray delta(LowRankModule module) {
        return module.factorB().matMul(module.factorA()).mul(module.scaling());
    }

    private float[] logits() {
        try (NDManager batch = manager.newSubManager()) {
            return model.forward(new ParameterStore(batch, false), new NDList(batch.create(new long[][] {{3, 1, 4, 1, 5}})), false).singletonOrThrow().toFloatArray();
        }
    }
}

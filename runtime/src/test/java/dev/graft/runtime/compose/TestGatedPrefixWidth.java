package dev.graft.runtime.compose;

import static java.util.Objects.requireNonNull;
import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.graft.runtime.model.LlamaConfig;
import dev.graft.runtime.model.LlamaForCausalLM;
import dev.graft.runtime.model.LlamaWeights;
import dev.graft.runtime.targeting.TargetRules;
import dev.graft.spi.AttentionSite;
import dev.graft.spi.MethodDescriptor;
import dev.graft.spi.MethodInstance;
import dev.graft.spi.MethodModule;
import dev.graft.spi.MethodOptions;
import dev.graft.spi.ModelContext;
import dev.graft.spi.OptionSchema;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.PrefixKeyValues;
import dev.graft.spi.PrefixModule;
import dev.graft.spi.Site;
import dev.graft.spi.SiteKind;
import dev.graft.spi.SpiVersion;

import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * A gated prefix reads the attention layer's input, which is {@code hidden} wide, also when the heads are not:
 * here 4 heads of 16 on a hidden size of 32 (as models with an explicit {@code head_dim}, such as Mistral-Nemo).
 */
final class TestGatedPrefixWidth {
    private static final LlamaConfig WIDE_HEADS = new LlamaConfig(50, 32, 48, 2, 4, 2, 16, 1e-6, 10000.0, false, false, false);

    @Test
    void testGatedPrefixOnHeadsWiderThanTheHiddenSize() {
        try (NDManager manager = NDManager.newBaseManager()) {
            PeftModel model = new PeftModel(LlamaForCausalLM.create(WIDE_HEADS, LlamaWeights.random(WIDE_HEADS, manager, 3), manager, null));
            Adapter adapter = model.addAdapter(new AdapterSpec("gated", Map.of(), TargetRules.fromConfig(Map.of()), Composition.GATED), new OnesPrefixMethod());

            assertThat(adapter.attachments().values()).allSatisfy(attachment ->
                    assertThat(attachment.gate().orElseThrow().getParameters().get("weight").getArray().getShape()).isEqualTo(new Shape(1, 32)));
            NDArray logits = model.forward(new ParameterStore(manager, false), new NDList(manager.create(new long[][] {{1, 2, 3, 4}})), false).singletonOrThrow();

            assertThat(logits.getShape()).isEqualTo(new Shape(1, 4, 50));
            assertThat(model.gateReadings()).hasSize(2).allSatisfy(reading -> assertThat(reading.values()[0]).isStrictlyBetween(0f, 1f));
        }
    }

    /** A prefix method whose modules give two virtual tokens of ones, without parameters. */
    private static final class OnesPrefixMethod implements PeftMethod {
        @Override
        public MethodDescriptor descriptor() {
            return new MethodDescriptor("ones-prefix", "1.0.0", SpiVersion.CURRENT, "ONES_PREFIX", Set.of(SiteKind.ATTENTION), false, OptionSchema.of(),
                    Map.of(), "two virtual tokens of ones, for testing gates");
        }

        @Override
        public MethodInstance create(MethodOptions options, ModelContext model) {
            return new MethodInstance() {
                @Override
                public MethodModule attach(Site site) {
                    return new OnesPrefix((AttentionSite) site);
                }

                @Override
                public long trainableParameterCount(List<Site> sites) {
                    return 0;
                }
            };
        }
    }

    private static final class OnesPrefix extends AbstractBlock implements PrefixModule {
        private final AttentionSite site;

        OnesPrefix(AttentionSite site) {
            super((byte) 1);
            this.site = requireNonNull(site, "site is null");
        }

        @Override
        public Site site() {
            return site;
        }

        @Override
        public int numVirtualTokens() {
            return 2;
        }

        @Override
        public PrefixKeyValues keyValues(ParameterStore parameterStore, NDArray like, boolean training) {
            Shape shape = new Shape(site.numKeyValueHeads(), 2, site.headDim());
            return new PrefixKeyValues(like.getManager().ones(shape), like.getManager().ones(shape));
        }

        @Override
        protected NDList forwardInternal(ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
            throw new UnsupportedOperationException("read through keyValues");
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputShapes) {
            return inputShapes;
        }
    }
}

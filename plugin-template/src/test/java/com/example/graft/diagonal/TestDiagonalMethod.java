package com.example.graft.diagonal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.graft.spi.InvalidOptionsException;
import dev.graft.spi.LinearSite;
import dev.graft.spi.MethodDescriptor;
import dev.graft.spi.MethodInstance;
import dev.graft.spi.ModelContext;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.Site;
import dev.graft.spi.SiteKind;
import dev.graft.spi.SpiVersion;
import dev.graft.spi.SublayerKind;
import dev.graft.spi.SublayerSite;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;

final class TestDiagonalMethod {
    private final PeftMethod method = new DiagonalMethod();

    @Test
    void testDescriptor() {
        MethodDescriptor descriptor = method.descriptor();
        assertThat(descriptor.id()).isEqualTo("diagonal");
        assertThat(descriptor.spiVersion()).isEqualTo(SpiVersion.CURRENT);
        assertThat(descriptor.peftType()).isEqualTo("DIAGONAL");
        assertThat(descriptor.siteKinds()).containsExactly(SiteKind.LINEAR);
        assertThat(descriptor.mergeable()).isTrue();
        assertThat(descriptor.options().names()).containsExactly("init_std");
        assertThat(descriptor.options().validate("diagonal", Map.of()).getDouble("init_std")).isEqualTo(0.0);
    }

    @Test
    void testServiceLoaderFindsTheMethod() {
        assertThat(ServiceLoader.load(PeftMethod.class).stream().map(ServiceLoader.Provider::type))
                .contains(DiagonalMethod.class);
    }

    @Test
    void testParameterCountIsTheSumOfDiagonalLengths() {
        MethodInstance instance = create(Map.of());
        List<Site> sites = List.of(
                new LinearSite("model.layers.0.self_attn.q_proj", 0, 64, 64, false),
                new LinearSite("model.layers.0.self_attn.v_proj", 0, 64, 32, false),
                new LinearSite("model.layers.0.mlp.down_proj", 0, 256, 64, false),
                new LinearSite("model.layers.0.mlp.up_proj", 0, 64, 256, false));

        assertThat(instance.trainableParameterCount(sites)).isEqualTo(64 + 32 + 64 + 64);
        long real = 0;
        for (Site site : sites) {
            real += instance.attach(site).getParameters().get(DiagonalModule.DIAGONAL).getShape().size();
        }
        assertThat(real).isEqualTo(224);
    }

    @Test
    void testAttachesToLinearSitesOnly() {
        MethodInstance instance = create(Map.of("init_std", 0.01));
        SublayerSite sublayer = new SublayerSite("model.layers.0.mlp", 0, SublayerKind.FEED_FORWARD, 64);

        assertThat(instance.accepts(sublayer)).isFalse();
        assertThatThrownBy(() -> instance.attach(sublayer))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("Method 'diagonal' attaches to linear sites only, but model.layers.0.mlp is a SUBLAYER site");
    }

    @Test
    void testNegativeInitStdIsRejected() {
        assertThatThrownBy(() -> create(Map.of("init_std", -0.5)))
                .isInstanceOf(InvalidOptionsException.class)
                .hasMessage("Method 'diagonal': option 'init_std' is -0.5, but must be a number >= 0. Fix the value.");
    }

    private MethodInstance create(Map<String, ?> options) {
        return method.create(method.descriptor().options().validate("diagonal", options), new NoWeightsModel());
    }

    /** A hand-written model context: the diagonal method reads nothing from it. */
    private static final class NoWeightsModel implements ModelContext {
        @Override
        public String modelType() {
            return "llama";
        }

        @Override
        public int numLayers() {
            return 1;
        }

        @Override
        public int hiddenSize() {
            return 64;
        }

        @Override
        public int numAttentionHeads() {
            return 4;
        }

        @Override
        public int numKeyValueHeads() {
            return 4;
        }

        @Override
        public int headDim() {
            return 16;
        }

        @Override
        public int vocabularySize() {
            return 128;
        }

        @Override
        public NDArray embedTokens(NDManager manager, long[] tokenIds) {
            throw new UnsupportedOperationException("no embeddings in this test model");
        }

        @Override
        public long[] tokenize(String text) {
            throw new IllegalStateException("no tokenizer in this test model");
        }
    }
}

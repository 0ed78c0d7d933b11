package dev.graft.plugin.prefix;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import dev.graft.runtime.model.LlamaConfig;
import dev.graft.runtime.model.LlamaForCausalLM;
import dev.graft.runtime.model.LlamaWeights;
import dev.graft.spi.AttentionSite;
import dev.graft.spi.EmbeddingSite;
import dev.graft.spi.InvalidOptionsException;
import dev.graft.spi.MethodDescriptor;
import dev.graft.spi.MethodInstance;
import dev.graft.spi.ModelContext;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.SiteKind;
import dev.graft.spi.SpiVersion;

import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

final class TestPrefixTuningMethod {
    private static final AttentionSite LAYER_0 = new AttentionSite("model.layers.0.self_attn", 0, 4, 2, 16);
    private static final AttentionSite LAYER_1 = new AttentionSite("model.layers.1.self_attn", 1, 4, 2, 16);

    private final PeftMethod method = new PrefixTuningMethod();
    private NDManager manager;
    private ModelContext model;

    @BeforeEach
    void openModel() {
        manager = NDManager.newBaseManager();
        model = LlamaForCausalLM.create(LlamaConfig.tiny(), LlamaWeights.random(LlamaConfig.tiny(), manager, 1), manager, null).context();
    }

    @AfterEach
    void closeModel() {
        manager.close();
    }

    @Test
    void testDescriptor() {
        MethodDescriptor descriptor = method.descriptor();

        assertThat(descriptor.id()).isEqualTo("prefix");
        assertThat(descriptor.spiVersion()).isEqualTo(SpiVersion.CURRENT);
        assertThat(descriptor.peftType()).isEqualTo("PREFIX_TUNING");
        assertThat(descriptor.siteKinds()).containsExactly(SiteKind.ATTENTION);
        assertThat(descriptor.mergeable()).isFalse();
        assertThat(descriptor.options().names()).containsExactly("num_virtual_tokens", "prefix_projection", "encoder_hidden_size", "init_weights",
                "token_dim", "num_layers", "num_attention_heads", "num_transformer_submodules");
        assertThat(descriptor.options().options().get(0).required()).isTrue();
    }

    @Test
    void testServiceLoaderFindsTheMethod() {
        assertThat(ServiceLoader.load(PeftMethod.class).stream().map(ServiceLoader.Provider::type)).contains(PrefixTuningMethod.class);
    }

    @Test
    void testFlatPrefixIsSizedToLayersAndKeyValueHeads() {
        MethodInstance instance = create(Map.of("num_virtual_tokens", 5));

        Map<String, Parameter> shared = instance.sharedParameters();
        assertThat(shared.keySet()).containsExactly("prompt_embeddings");
        assertThat(shared.get("prompt_embeddings").getShape()).isEqualTo(new Shape(5, 2 * 2 * 32));
        assertThat(instance.trainableParameterCount(List.of(LAYER_0, LAYER_1))).isEqualTo(640L);
        assertThat(((PrefixTuningModule) instance.attach(LAYER_1)).numVirtualTokens()).isEqualTo(5);
    }

    @Test
    void testProjectionDefaultsItsHiddenWidthToTheKeyValueWidth() {
        MethodInstance instance = create(Map.of("num_virtual_tokens", 5, "prefix_projection", true));

        Map<String, Parameter> shared = instance.sharedParameters();
        assertThat(shared.get(PrefixEncoder.EMBEDDING).getShape()).isEqualTo(new Shape(5, 32));
        assertThat(shared.get(PrefixEncoder.HIDDEN_WEIGHT).getShape()).isEqualTo(new Shape(32, 32));
        assertThat(shared.get(PrefixEncoder.OUTPUT_WEIGHT).getShape()).isEqualTo(new Shape(128, 32));
        // 5·32 + (32·32 + 32) + (32·128 + 128)
        assertThat(instance.trainableParameterCount(List.of(LAYER_0, LAYER_1))).isEqualTo(160L + 1_056L + 4_224L);
    }

    @Test
    void testAttachesToAttentionSitesOfTheRightWidthOnly() {
        MethodInstance instance = create(Map.of("num_virtual_tokens", 2));
        EmbeddingSite embedding = new EmbeddingSite("model.embed_tokens", 128, 64);
        AttentionSite wide = new AttentionSite("model.layers.0.self_attn", 0, 4, 4, 16);
        AttentionSite beyond = new AttentionSite("model.layers.2.self_attn", 2, 4, 2, 16);

        assertThat(instance.accepts(LAYER_0)).isTrue();
        assertThat(instance.accepts(embedding)).isFalse();
        assertThatThrownBy(() -> instance.attach(embedding))
                .hasMessage("Method 'prefix' attaches to attention sites only, but model.embed_tokens is a EMBEDDING site");
        assertThatThrownBy(() -> instance.prepare(List.of(LAYER_0, wide)))
                .hasMessage("Method 'prefix': attention site model.layers.0.self_attn (layer 0, key/value width 64) does not fit the prefix, "
                        + "which covers layers 0 to 1 of width 32");
        assertThatThrownBy(() -> instance.prepare(List.of(beyond)))
                .hasMessage("Method 'prefix': attention site model.layers.2.self_attn (layer 2, key/value width 32) does not fit the prefix, "
                        + "which covers layers 0 to 1 of width 32");
    }

    @Test
    void testInvalidOptionsNameTheMethodKeyValueAndWhatIsAllowed() {
        assertInvalid(Map.of("num_virtual_tokens", -1),
                "Method 'prefix': option 'num_virtual_tokens' is -1, but must be a whole number >= 1. Fix the value.");
        assertInvalid(Map.of("num_virtual_tokens", 3, "prefix_projection", true, "encoder_hidden_size", 0),
                "Method 'prefix': option 'encoder_hidden_size' is 0, but must be a whole number >= 1. Fix the value.");
        assertInvalid(Map.of("num_virtual_tokens", 3, "init_weights", "ones"),
                "Method 'prefix': option 'init_weights' is \"ones\", which is not allowed. Allowed values: \"zero\".");
        assertThatThrownBy(() -> create(Map.of()))
                .isInstanceOf(InvalidOptionsException.class)
                .hasMessageStartingWith("Method 'prefix' needs option 'num_virtual_tokens' (a whole number)");
    }

    private void assertInvalid(Map<String, Object> options, String message) {
        assertThatThrownBy(() -> create(options)).isInstanceOf(InvalidOptionsException.class).hasMessage(message);
    }

    private MethodInstance create(Map<String, Object> options) {
        return method.create(method.descriptor().options().validate("prefix", options), model);
    }
}

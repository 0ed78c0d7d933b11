package dev.graft.plugin.ia3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.graft.spi.InvalidOptionsException;
import dev.graft.spi.OptionSchema;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** PEFT's feed-forward rule and the per-model defaults. */
final class TestFeedForwardModules {
    @Test
    void testListEntriesMatchAsPlainSuffixes() {
        FeedForwardModules modules = FeedForwardModules.ofList(List.of("down_proj"));
        assertThat(modules.matches("model.layers.0.mlp.down_proj")).isTrue();
        assertThat(modules.matches("down_proj")).isTrue();
        assertThat(modules.matches("model.layers.0.self_attn.k_proj")).isFalse();
        assertThat(modules.matches("model.layers.0.mlp.down_proj.extra")).isFalse();
        // PEFT tests key.endswith(entry), without a dot boundary
        assertThat(FeedForwardModules.ofList(List.of("proj")).matches("model.layers.0.self_attn.k_proj")).isTrue();
        assertThat(FeedForwardModules.ofList(List.of("mlp.down_proj")).matches("model.layers.1.mlp.down_proj")).isTrue();
        assertThat(FeedForwardModules.ofList(List.of()).matches("model.layers.1.mlp.down_proj")).isFalse();
    }

    @Test
    void testPatternMustMatchTheWholeName() {
        FeedForwardModules modules = FeedForwardModules.ofPattern("model\\.layers\\.\\d+\\.mlp\\.down_proj");
        assertThat(modules.matches("model.layers.12.mlp.down_proj")).isTrue();
        assertThat(modules.matches("prefix.model.layers.12.mlp.down_proj")).isFalse();
        assertThat(FeedForwardModules.ofPattern("down_proj").matches("model.layers.0.mlp.down_proj")).isFalse();
        // a Python named group, as a PEFT config may hold it: the same expression reads the same in target_modules
        assertThat(FeedForwardModules.ofPattern("model\\.layers\\.(?P<index>\\d+)\\.mlp\\.down_proj").matches("model.layers.3.mlp.down_proj")).isTrue();
        assertThatThrownBy(() -> FeedForwardModules.ofPattern("mlp.(down")).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("mlp.(down");
    }

    @Test
    void testDefaultsFollowTheModelType() {
        Ia3Configuration defaults = bind(Map.of());
        assertThat(defaults.explicitFeedforwardModules()).isFalse();
        assertThat(defaults.feedForwardModules("llama").entries()).containsExactly("down_proj");
        assertThat(defaults.feedForwardModules("bert").entries()).containsExactly("output.dense");
        assertThatThrownBy(() -> defaults.feedForwardModules("gpt2"))
                .isInstanceOf(InvalidOptionsException.class)
                .hasMessageContaining("'ia3'").hasMessageContaining("feedforward_modules").hasMessageContaining("gpt2");
        Ia3Configuration explicit = bind(Map.of("feedforward_modules", List.of("up_proj")));
        assertThat(explicit.explicitFeedforwardModules()).isTrue();
        assertThat(explicit.feedForwardModules("gpt2").entries()).containsExactly("up_proj");
    }

    @Test
    void testInvalidPatternIsAnOptionError() {
        assertThatThrownBy(() -> bind(Map.of("feedforward_modules", "mlp.(down")))
                .isInstanceOf(InvalidOptionsException.class)
                .hasMessageContaining("'ia3'").hasMessageContaining("feedforward_modules").hasMessageContaining("\"mlp.(down\"");
    }

    private static Ia3Configuration bind(Map<String, Object> raw) {
        return OptionSchema.of(Ia3Configuration.class).validate(Ia3Configuration.METHOD_ID, raw).bind(Ia3Configuration.class);
    }
}

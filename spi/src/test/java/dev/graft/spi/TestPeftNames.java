package dev.graft.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import org.junit.jupiter.api.Test;

final class TestPeftNames {
    @Test
    void testPythonSyntaxAndUnicodeClassesCompile() {
        Pattern repeated = PeftNames.compile("(?P<part>proj)_(?P=part)");
        assertThat(repeated.matcher("proj_proj").matches()).isTrue();
        assertThat(repeated.matcher("proj_other").matches()).isFalse();
        assertThat(PeftNames.compile("layer_\\w+").matcher("layer_é").matches()).as("\\w is Unicode-aware, as in Python 3").isTrue();
        assertThatThrownBy(() -> PeftNames.compile("mlp.(down")).isInstanceOf(PatternSyntaxException.class);
    }

    @Test
    void testPatternKeysMatchTheNameOrASuffixAfterADot() {
        Pattern key = PeftNames.patternKey("v_proj");
        assertThat(PeftNames.matchesPatternKey(key, "model.layers.0.self_attn.v_proj")).isTrue();
        assertThat(PeftNames.matchesPatternKey(key, "v_proj")).isTrue();
        assertThat(PeftNames.matchesPatternKey(PeftNames.patternKey("proj"), "model.layers.0.self_attn.v_proj")).isFalse();
        assertThat(PeftNames.matchesPatternKey(PeftNames.patternKey("layers\\.(?P<n>0)\\.self_attn\\.q_proj"), "model.layers.0.self_attn.q_proj")).isTrue();
    }

    @Test
    void testOneExpressionMatchesTheSameNamesInTargetModulesAndRankPattern() {
        String expression = "model\\.layers\\.(?P<layer>[01])\\.self_attn\\.(q|v)_proj";
        Pattern targetModules = PeftNames.compile(expression);
        Pattern rankPatternKey = PeftNames.patternKey(expression);
        java.util.List<String> names = java.util.List.of(
                "model.layers.0.self_attn.q_proj", "model.layers.1.self_attn.v_proj", "model.layers.2.self_attn.q_proj",
                "model.layers.0.self_attn.k_proj", "model.layers.0.mlp.up_proj", "model.layers.１.self_attn.q_proj");
        java.util.List<String> targeted = names.stream().filter(name -> targetModules.matcher(name).matches()).toList();
        java.util.List<String> patterned = names.stream().filter(name -> PeftNames.matchesPatternKey(rankPatternKey, name)).toList();
        assertThat(targeted).containsExactly("model.layers.0.self_attn.q_proj", "model.layers.1.self_attn.v_proj");
        assertThat(patterned).isEqualTo(targeted);
    }
}

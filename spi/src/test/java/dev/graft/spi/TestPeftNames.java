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
}

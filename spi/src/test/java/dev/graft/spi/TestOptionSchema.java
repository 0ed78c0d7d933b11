package dev.graft.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

final class TestOptionSchema {
    private static final OptionSchema SCHEMA = OptionSchema.of(
            OptionSpec.integer("r", 8, "rank"),
            OptionSpec.number("lora_alpha", 8, "alpha"),
            OptionSpec.choice("init_lora_weights", true, List.of(true, false, "gaussian"), "init"),
            OptionSpec.integerMap("rank_pattern", Map.of(), "ranks"),
            OptionSpec.stringList("feedforward_modules", null, "feed-forward modules"),
            OptionSpec.requiredInteger("num_virtual_tokens", "virtual tokens"));

    @Test
    void testDefaultsAreFilledAndJsonNumbersConverted() {
        MethodOptions options = SCHEMA.validate("demo", Map.of("num_virtual_tokens", 5, "lora_alpha", 16, "rank_pattern", Map.of("q_proj", 4.0)));
        assertThat(options.getInt("r")).isEqualTo(8);
        assertThat(options.getDouble("lora_alpha")).isEqualTo(16.0);
        assertThat(options.get("init_lora_weights")).isEqualTo(true);
        assertThat(options.getIntegerMap("rank_pattern")).containsExactly(Map.entry("q_proj", 4));
        assertThat(options.has("feedforward_modules")).isFalse();
        assertThat(options.isExplicit("lora_alpha")).isTrue();
        assertThat(options.isExplicit("r")).isFalse();
    }

    @Test
    void testUnknownKeyNamesMethodKeyAndAllowedKeys() {
        assertThatThrownBy(() -> SCHEMA.validate("demo", Map.of("num_virtual_tokens", 5, "rank", 4)))
                .isInstanceOf(InvalidOptionsException.class)
                .hasMessage("Method 'demo' has no option 'rank'. Allowed options: r, lora_alpha, init_lora_weights, rank_pattern, "
                        + "feedforward_modules, num_virtual_tokens. Fix the key or remove it.");
    }

    @Test
    void testWrongTypesAndMissingRequiredKeysAreExplained() {
        assertThatThrownBy(() -> SCHEMA.validate("demo", Map.of("num_virtual_tokens", 5, "r", 2.5)))
                .hasMessage("Method 'demo': option 'r' must be a whole number, but is 2.5. Fix the value.");
        assertThatThrownBy(() -> SCHEMA.validate("demo", Map.of("num_virtual_tokens", 5, "init_lora_weights", "pissa")))
                .hasMessage("Method 'demo': option 'init_lora_weights' is \"pissa\", which is not allowed. Allowed values: true, false, \"gaussian\".");
        assertThatThrownBy(() -> SCHEMA.validate("demo", Map.of("num_virtual_tokens", 5, "rank_pattern", Map.of("q_proj", 1.5))))
                .hasMessage("Method 'demo': option 'rank_pattern' must be a map from names to whole numbers, but is {q_proj=1.5}. Fix the value.");
        assertThatThrownBy(() -> SCHEMA.validate("demo", Map.of()))
                .hasMessage("Method 'demo' needs option 'num_virtual_tokens' (a whole number): virtual tokens. Add it to the method's options.");
    }

    @Test
    void testStringOrStringListKeepsTheFormGiven() {
        OptionSchema schema = OptionSchema.of(OptionSpec.stringOrStringList("feedforward_modules", null, "modules"));
        assertThat(schema.validate("demo", Map.of("feedforward_modules", ".*down_proj")).get("feedforward_modules")).isEqualTo(".*down_proj");
        assertThat(schema.validate("demo", Map.of("feedforward_modules", List.of("down_proj"))).getStringList("feedforward_modules")).containsExactly("down_proj");
        assertThatThrownBy(() -> schema.validate("demo", Map.of("feedforward_modules", List.of(1))))
                .hasMessage("Method 'demo': option 'feedforward_modules' must be a string or a list of strings, but is [1]. Fix the value.");
    }

    @Test
    void testSpiVersionCompatibility() {
        assertThat(SpiVersion.isCompatible("1.0", "1.0")).isTrue();
        assertThat(SpiVersion.isCompatible("1.0", "1.3")).isTrue();
        assertThat(SpiVersion.isCompatible("1.4", "1.3")).isFalse();
        assertThat(SpiVersion.isCompatible("2.0", "1.0")).isFalse();
        assertThatThrownBy(() -> SpiVersion.isCompatible("1", "1.0")).hasMessageContaining("major.minor");
    }
}

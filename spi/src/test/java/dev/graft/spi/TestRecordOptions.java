package dev.graft.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;

final class TestRecordOptions {
    record Demo(
            @Option(name = "r", defaultValue = "8", minimum = 1, description = "rank") int rank,
            @Option(name = "lora_alpha", defaultValue = "8", description = "alpha") double alpha,
            @Option(name = "lora_dropout", defaultValue = "0.0", minimum = 0, maximum = 1, maximumExclusive = true, description = "dropout") double dropout,
            @Option(name = "rank_pattern", defaultValue = "{}", minimum = 1, description = "ranks") Map<String, Integer> rankPattern,
            @Option(name = "init_lora_weights", defaultValue = "true", allowed = {"true", "false", "gaussian"}, description = "start") Object initialization,
            @Option(name = "note", description = "free text") String note) {
        Demo {
            if (rank > 4 && note != null) {
                throw InvalidOptionsException.wrongTogether("demo", "option 'note' is \"%s\", which needs 'r' <= 4, but 'r' is %d", note, rank);
            }
        }
    }

    private static final OptionSchema SCHEMA = OptionSchema.of(Demo.class);

    @Test
    void testSchemaIsDerivedFromTheRecord() {
        assertThat(SCHEMA.names()).containsExactly("r", "lora_alpha", "lora_dropout", "rank_pattern", "init_lora_weights", "note");
        OptionSpec rank = SCHEMA.options().get(0);
        assertThat(rank.type()).isEqualTo(OptionType.INTEGER);
        assertThat(rank.defaultValue()).isEqualTo(8);
        assertThat(SCHEMA.options().get(1).defaultValue()).isEqualTo(8.0);
        assertThat(SCHEMA.options().get(4).type()).isEqualTo(OptionType.CHOICE);
        assertThat(SCHEMA.options().get(4).choices()).containsExactly(true, false, "gaussian");
        assertThat(SCHEMA.options().get(5).defaultValue()).isNull();
    }

    @Test
    void testBindFillsDefaults() {
        Demo demo = SCHEMA.validate("demo", Map.of("lora_dropout", 0.25, "init_lora_weights", "gaussian")).bind(Demo.class);
        assertThat(demo).isEqualTo(new Demo(8, 8.0, 0.25, Map.of(), "gaussian", null));
    }

    @Test
    void testOneValidationNamesMethodKeyValueAndRange() {
        assertThatThrownBy(() -> SCHEMA.validate("demo", Map.of("r", 0)))
                .isInstanceOf(InvalidOptionsException.class)
                .hasMessage("Method 'demo': option 'r' is 0, but must be a whole number >= 1. Fix the value.");
        assertThatThrownBy(() -> SCHEMA.validate("demo", Map.of("lora_dropout", 1)))
                .hasMessage("Method 'demo': option 'lora_dropout' is 1.0, but must be a number in [0, 1). Fix the value.");
        assertThatThrownBy(() -> SCHEMA.validate("demo", Map.of("lora_dropout", Double.NaN)))
                .hasMessage("Method 'demo': option 'lora_dropout' is NaN, but must be a number in [0, 1). Fix the value.");
        assertThatThrownBy(() -> SCHEMA.validate("demo", Map.of("rank_pattern", Map.of("q_proj", 0))))
                .hasMessage("Method 'demo': option 'rank_pattern' maps 'q_proj' to 0, but must be a map from names to whole numbers, each >= 1. Fix the value.");
    }

    @Test
    void testUnknownKeyNamesTheNearestKey() {
        assertThatThrownBy(() -> SCHEMA.validate("demo", Map.of("lora_alhpa", 16)))
                .isInstanceOf(InvalidOptionsException.class)
                .hasMessage("Method 'demo' has no option 'lora_alhpa'. Did you mean 'lora_alpha'? Allowed options: r, lora_alpha, lora_dropout, rank_pattern, "
                        + "init_lora_weights, note. Fix the key or remove it.");
    }

    @Test
    void testCrossFieldRulesUseTheSameHelper() {
        assertThatThrownBy(() -> SCHEMA.validate("demo", Map.of("note", "x")).bind(Demo.class))
                .isInstanceOf(InvalidOptionsException.class)
                .hasMessage("Method 'demo': option 'note' is \"x\", which needs 'r' <= 4, but 'r' is 8");
    }
}

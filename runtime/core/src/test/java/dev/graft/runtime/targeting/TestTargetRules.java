package dev.graft.runtime.targeting;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.math.BigInteger;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

final class TestTargetRules {
    private static final String PREFIX = "Invalid PEFT targeting configuration: ";

    @Test
    void testReadsAnAdapterConfig() throws IOException {
        String json = "{\"peft_type\":\"LORA\",\"r\":8,\"lora_alpha\":16,\"target_modules\":[\"v_proj\",\"q_proj\"],"
                + "\"exclude_modules\":null,\"layers_to_transform\":[0,2],\"layers_pattern\":\"layers\",\"modules_to_save\":null}";
        Map<String, Object> config = new ObjectMapper().readValue(json, new TypeReference<>() {});

        TargetRules rules = TargetRules.fromConfig(config);

        assertThat(rules.targetModules()).contains(ModulePatterns.names(List.of("v_proj", "q_proj")));
        assertThat(rules.excludeModules()).isEmpty();
        assertThat(rules.layersToTransform()).containsExactly(0, 2);
        assertThat(rules.layersPattern()).containsExactly("layers");
    }

    @Test
    void testConfigRoundTrip() {
        Map<String, Object> config = new HashMap<>();
        config.put("target_modules", List.of("v_proj", "q_proj"));
        config.put("exclude_modules", ".*layers\\.1\\..*");
        config.put("layers_to_transform", List.of(0, 2));
        config.put("layers_pattern", "layers");
        TargetRules rules = TargetRules.fromConfig(config);

        assertThat(rules.toConfig()).containsExactlyInAnyOrderEntriesOf(config);
        assertThat(TargetRules.fromConfig(rules.toConfig())).isEqualTo(rules);
        assertThat(TargetRules.fromConfig(Map.of("target_modules", "all-linear")).toConfig()).containsEntry("target_modules", "all-linear")
                .containsEntry("exclude_modules", null).containsEntry("layers_to_transform", null);
    }

    @Test
    void testStringTargets() {
        assertThat(TargetRules.fromConfig(Map.of("target_modules", "all-linear")).targetModules()).contains(ModulePatterns.allLinear());
        assertThat(TargetRules.fromConfig(Map.of("target_modules", "All-Linear")).targetModules()).contains(ModulePatterns.allLinear());
        assertThat(TargetRules.fromConfig(Map.of("target_modules", ".*q_proj")).targetModules()).contains(ModulePatterns.regex(".*q_proj"));
        // exclude_modules has no shorthand: the string is a regular expression
        assertThat(TargetRules.fromConfig(Map.of("exclude_modules", "all-linear")).excludeModules()).contains(ModulePatterns.regex("all-linear"));
        assertThat(TargetRules.fromConfig(Map.of("target_modules", Set.of("q_proj"))).targetModules()).contains(ModulePatterns.names(List.of("q_proj")));
        assertThat(TargetRules.fromConfig(Map.of())).isEqualTo(TargetRules.defaults());
    }

    @Test
    void testLayerValues() {
        assertThat(TargetRules.fromConfig(Map.of("target_modules", List.of("q"), "layers_to_transform", 3L)).layersToTransform()).containsExactly(3);
        assertThat(TargetRules.fromConfig(Map.of("target_modules", List.of("q"), "layers_to_transform", List.of(BigInteger.ONE, (short) 2))).layersToTransform())
                .containsExactly(1, 2);
        assertThat(TargetRules.fromConfig(Map.of("target_modules", List.of("q"), "layers_to_transform", List.of())).layersToTransform()).isEmpty();
        assertThat(TargetRules.fromConfig(Map.of("target_modules", List.of("q"), "layers_pattern", "")).layersPattern()).isEmpty();
        assertThat(TargetRules.fromConfig(Map.of("target_modules", List.of("q"), "layers_to_transform", 0, "layers_pattern", List.of())).layersToTransform())
                .containsExactly(0);
    }

    @Test
    void testWrongTypesNameTheKey() {
        assertRejected(Map.of("target_modules", 5),
                "target_modules must be null, a regular expression, \"all-linear\" or a list of module names, found Integer 5");
        assertRejected(Map.of("target_modules", List.of("q_proj", 3)),
                "target_modules must be null, a regular expression, \"all-linear\" or a list of module names, but element 1 is Integer 3");
        assertRejected(Map.of("exclude_modules", Map.of("a", "b")),
                "exclude_modules must be null, a regular expression or a list of module names, found ");
        assertRejected(Map.of("target_modules", List.of("q"), "layers_to_transform", "0"),
                "layers_to_transform must be null, an integer or a list of integers, found the string \"0\"");
        assertRejected(Map.of("target_modules", List.of("q"), "layers_to_transform", List.of(0, 1.5)),
                "layers_to_transform must be null, an integer or a list of integers, but element 1 is Double 1.5");
        assertRejected(Map.of("target_modules", List.of("q"), "layers_to_transform", true),
                "layers_to_transform must be null, an integer or a list of integers, found Boolean true");
        assertRejected(Map.of("target_modules", List.of("q"), "layers_to_transform", 1L << 40),
                "layers_to_transform must be null, an integer or a list of integers, found Long 1099511627776");
        assertRejected(Map.of("target_modules", List.of("q"), "layers_to_transform", 1, "layers_pattern", 3),
                "layers_pattern must be null, a string or a list of strings, found Integer 3");
        Map<String, Object> nullElement = new HashMap<>();
        nullElement.put("target_modules", Arrays.asList("q", null));
        assertRejected(nullElement, "target_modules must be null, a regular expression, \"all-linear\" or a list of module names, but element 1 is null");
    }

    @Test
    void testLayerKeysNeedAListTarget() {
        assertRejected(Map.of("target_modules", ".*q_proj", "layers_to_transform", 0),
                "layers_to_transform cannot be used when target_modules is a string ('.*q_proj'); list the module names instead, as PEFT requires");
        // PEFT checks "is not None": an empty list is refused too
        assertRejected(Map.of("target_modules", "all-linear", "layers_to_transform", List.of()),
                "layers_to_transform cannot be used when target_modules is a string ('all-linear')");
        assertRejected(Map.of("target_modules", "all-linear", "layers_pattern", "layers"),
                "layers_pattern cannot be used when target_modules is a string ('all-linear')");
    }

    @Test
    void testLayersPatternNeedsLayersToTransform() {
        assertRejected(Map.of("target_modules", List.of("q"), "layers_pattern", "layers"),
                "layers_pattern layers is set but layers_to_transform is null; when layers_pattern is specified, layers_to_transform must also be specified");
        // PEFT tests truthiness, and 0 is falsy
        assertRejected(Map.of("target_modules", List.of("q"), "layers_pattern", List.of("h"), "layers_to_transform", 0),
                "layers_pattern [h] is set but layers_to_transform is 0; when layers_pattern is specified, layers_to_transform must also be specified (write [0], not 0, for the first layer)");
        assertThat(TargetRules.fromConfig(Map.of("target_modules", List.of("q"), "layers_pattern", List.of("h"), "layers_to_transform", List.of(0))).layersToTransform())
                .containsExactly(0);
    }

    @Test
    void testInvalidExpressions() {
        assertRejected(Map.of("target_modules", "(q|v"), "target_modules: '(q|v' is not a valid regular expression: Unclosed group at index 4");
        assertRejected(Map.of("exclude_modules", "*proj"), "exclude_modules: '*proj' is not a valid regular expression: Dangling meta character '*' at index 0");
        assertRejected(Map.of("target_modules", List.of("q"), "layers_to_transform", 1, "layers_pattern", "(layers|h)"),
                "layers_pattern '(layers|h)' has a capturing group, which would take the place of the layer index; use (?:...) instead");
        assertThat(TargetRules.fromConfig(Map.of("target_modules", List.of("q"), "layers_to_transform", 1, "layers_pattern", "(?:layers|h)")).layersPattern())
                .containsExactly("(?:layers|h)");
    }

    @Test
    void testConstructorChecks() {
        assertThatThrownBy(() -> new TargetRules(Optional.empty(), Optional.of(ModulePatterns.allLinear()), List.of(), List.of()))
                .isInstanceOf(TargetingException.class)
                .hasMessageStartingWith("exclude_modules cannot be \"all-linear\"");
        assertThatThrownBy(() -> new TargetRules(Optional.of(ModulePatterns.regex(".*")), Optional.empty(), List.of(1), List.of()))
                .isInstanceOf(TargetingException.class)
                .hasMessage("layers_to_transform [1] cannot be used when target_modules is a string ('.*'); list the module names instead, as PEFT requires");
        assertThatThrownBy(() -> new TargetRules(Optional.empty(), Optional.empty(), List.of(), List.of("layers")))
                .isInstanceOf(TargetingException.class)
                .hasMessage("layers_pattern [layers] is set but layers_to_transform is not; when layers_pattern is specified, layers_to_transform must also be specified");
    }

    private static void assertRejected(Map<String, ?> config, String problem) {
        assertThatThrownBy(() -> TargetRules.fromConfig(config))
                .isInstanceOf(TargetingException.class)
                .hasMessageStartingWith(PREFIX + problem);
    }
}

package dev.graft.plugin.lora;

import static dev.graft.plugin.lora.ArrayStatistics.maximumAbsolute;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.graft.spi.InvalidOptionsException;
import dev.graft.spi.LinearSite;
import dev.graft.spi.MethodDescriptor;
import dev.graft.spi.MethodInstance;
import dev.graft.spi.MethodModule;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.SiteKind;
import dev.graft.spi.SpiVersion;
import dev.graft.spi.SublayerKind;
import dev.graft.spi.SublayerSite;
import dev.graft.spi.Site;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.stream.Stream;

final class TestLoraMethod {
    private static final LinearSite LAYER_0_Q = new LinearSite("model.layers.0.self_attn.q_proj", 0, 64, 64, false);
    private static final LinearSite LAYER_0_V = new LinearSite("model.layers.0.self_attn.v_proj", 0, 64, 32, false);
    private static final LinearSite LAYER_1_Q = new LinearSite("model.layers.1.self_attn.q_proj", 1, 64, 64, false);
    private static final LinearSite LAYER_1_V = new LinearSite("model.layers.1.self_attn.v_proj", 1, 64, 32, false);

    private final PeftMethod method = new LoraMethod();

    @Test
    void testDescriptor() {
        MethodDescriptor descriptor = method.descriptor();
        assertThat(descriptor.id()).isEqualTo("lora");
        assertThat(descriptor.version()).isEqualTo("0.1.0");
        assertThat(descriptor.spiVersion()).isEqualTo(SpiVersion.CURRENT);
        assertThat(descriptor.peftType()).isEqualTo("LORA");
        assertThat(descriptor.siteKinds()).containsExactly(SiteKind.LINEAR);
        assertThat(descriptor.mergeable()).isTrue();
        assertThat(descriptor.defaultTargets()).containsOnly(
                Map.entry("llama", List.of("q_proj", "v_proj")),
                Map.entry("bert", List.of("query", "value")),
                Map.entry("roberta", List.of("query", "value")));
        assertThat(descriptor.options().names()).containsExactly(
                "r", "lora_alpha", "lora_dropout", "use_rslora", "rank_pattern", "alpha_pattern",
                "init_lora_weights", "bias", "fan_in_fan_out", "lora_bias", "use_dora");
    }

    @Test
    void testServiceLoaderFindsLora() {
        assertThat(ServiceLoader.load(PeftMethod.class).stream().map(ServiceLoader.Provider::type))
                .contains(LoraMethod.class);
    }

    @Test
    void testPeftDefaults() {
        LoraModule module = attach(Map.of(), LAYER_0_Q);
        assertThat(module.rank()).isEqualTo(8);
        assertThat(module.scaling()).isEqualTo(1.0f);
        assertThat(module.hasLoraBias()).isFalse();
        assertThat(module.site()).isEqualTo(LAYER_0_Q);
        assertThat(method.descriptor().options().validate("lora", Map.of()).asMap())
                .containsEntry("r", 8)
                .containsEntry("lora_alpha", 8.0)
                .containsEntry("lora_dropout", 0.0)
                .containsEntry("use_rslora", false)
                .containsEntry("init_lora_weights", true)
                .containsEntry("bias", "none")
                .containsEntry("fan_in_fan_out", false)
                .containsEntry("lora_bias", false)
                .containsEntry("use_dora", false);
    }

    @Test
    void testScalingPlainAndRslora() {
        assertThat(attach(Map.of("r", 4, "lora_alpha", 8), LAYER_0_Q).scaling()).isEqualTo(2.0f);
        assertThat(attach(Map.of("r", 4, "lora_alpha", 8, "use_rslora", true), LAYER_0_Q).scaling()).isEqualTo(4.0f);
        assertThat(attach(Map.of("r", 16, "lora_alpha", 32, "use_rslora", true), LAYER_0_Q).scaling()).isEqualTo(8.0f);
        assertThat(attach(Map.of("r", 3, "lora_alpha", 1.5), LAYER_0_Q).scaling()).isEqualTo(0.5f);
    }

    @Test
    void testRankPatternSuffixAndRegexKeys() {
        Map<String, Object> rankPattern = new LinkedHashMap<>();
        rankPattern.put("v_proj", 16);
        rankPattern.put("layers\\.0\\.self_attn\\.q_proj", 2);
        Map<String, Object> options = Map.of("r", 4, "lora_alpha", 8, "rank_pattern", rankPattern);

        LoraModule layer0Query = attach(options, LAYER_0_Q);
        assertThat(layer0Query.rank()).isEqualTo(2);
        assertThat(layer0Query.scaling()).isEqualTo(4.0f);
        LoraModule layer1Query = attach(options, LAYER_1_Q);
        assertThat(layer1Query.rank()).isEqualTo(4);
        assertThat(layer1Query.scaling()).isEqualTo(2.0f);
        assertThat(attach(options, LAYER_0_V).rank()).isEqualTo(16);
        assertThat(attach(options, LAYER_1_V).rank()).isEqualTo(16);
        assertThat(attach(options, LAYER_1_V).scaling()).isEqualTo(0.5f);
    }

    @Test
    void testPatternKeyMatchesOnlyAfterADot() {
        // PEFT: re.match(r"(.*\.)?(proj)$", "...q_proj") fails, because "q_" does not end with a dot.
        Map<String, Object> options = Map.of("rank_pattern", Map.of("proj", 2), "alpha_pattern", Map.of("_proj", 3));
        LoraModule module = attach(options, LAYER_0_Q);
        assertThat(module.rank()).isEqualTo(8);
        assertThat(module.scaling()).isEqualTo(1.0f);
        // A key that is a regular expression over the last component matches.
        assertThat(attach(Map.of("rank_pattern", Map.of(".*proj", 2)), LAYER_0_Q).rank()).isEqualTo(2);
        // The whole name matches, since the "(.*\.)?" prefix is optional.
        assertThat(attach(Map.of("rank_pattern", Map.of("model.layers.0.self_attn.q_proj", 6)), LAYER_0_Q).rank()).isEqualTo(6);
        // The key must reach the end of the name.
        assertThat(attach(Map.of("rank_pattern", Map.of("self_attn", 6)), LAYER_0_Q).rank()).isEqualTo(8);
    }

    @Test
    void testFirstMatchingPatternKeyWins() {
        Map<String, Object> first = new LinkedHashMap<>();
        first.put("q_proj", 4);
        first.put("layers\\.0\\.self_attn\\.q_proj", 2);
        assertThat(attach(Map.of("rank_pattern", first), LAYER_0_Q).rank()).isEqualTo(4);

        Map<String, Object> reversed = new LinkedHashMap<>();
        reversed.put("layers\\.0\\.self_attn\\.q_proj", 2);
        reversed.put("q_proj", 4);
        assertThat(attach(Map.of("rank_pattern", reversed), LAYER_0_Q).rank()).isEqualTo(2);
        assertThat(attach(Map.of("rank_pattern", reversed), LAYER_1_Q).rank()).isEqualTo(4);
    }

    @Test
    void testAlphaPatternIsIndependentOfRankPattern() {
        Map<String, Object> options = Map.of(
                "r", 8,
                "lora_alpha", 16,
                "rank_pattern", Map.of("q_proj", 4),
                "alpha_pattern", Map.of("v_proj", 64));
        LoraModule query = attach(options, LAYER_0_Q);
        assertThat(query.rank()).isEqualTo(4);
        assertThat(query.scaling()).isEqualTo(4.0f);
        LoraModule value = attach(options, LAYER_0_V);
        assertThat(value.rank()).isEqualTo(8);
        assertThat(value.scaling()).isEqualTo(8.0f);
    }

    @Test
    void testInitLoraWeightsOptionSelectsTheInitialization() {
        LinearSite wide = new LinearSite("model.layers.0.mlp.down_proj", 0, 1024, 16, false);
        try (NDManager manager = NDManager.newBaseManager()) {
            float[] gaussianDown = initializedValues(attach(Map.of("init_lora_weights", "gaussian", "r", 4), wide), manager, LoraModule.LORA_A_WEIGHT);
            // N(0, 1/r) with r = 4: no value of 4096 draws comes near U(±1/32)'s bound, and the spread is about 0.25.
            assertThat(maximumAbsolute(gaussianDown)).isGreaterThan(0.5);
            float[] kaimingDown = initializedValues(attach(Map.of("init_lora_weights", true, "r", 4), wide), manager, LoraModule.LORA_A_WEIGHT);
            assertThat(maximumAbsolute(kaimingDown)).isLessThanOrEqualTo(1 / 32.0);
            float[] linearDefaultUp = initializedValues(attach(Map.of("init_lora_weights", false, "r", 4), wide), manager, LoraModule.LORA_B_WEIGHT);
            assertThat(maximumAbsolute(linearDefaultUp)).isGreaterThan(0).isLessThanOrEqualTo(0.5);
            float[] kaimingUp = initializedValues(attach(Map.of("init_lora_weights", true, "r", 4), wide), manager, LoraModule.LORA_B_WEIGHT);
            assertThat(kaimingUp).containsOnly(0f);
        }
    }

    @Test
    void testParameterCountOfTwoLayerGroupedQueryModel() {
        List<Site> sites = List.of(LAYER_0_Q, LAYER_0_V, LAYER_1_Q, LAYER_1_V);
        MethodInstance instance = create(Map.of("r", 4, "lora_alpha", 8));
        assertThat(instance.trainableParameterCount(sites)).isEqualTo(1_792L);
        assertThat(realParameterCount(instance, sites)).isEqualTo(1_792L);
    }

    @Test
    void testParameterCountWithLoraBiasAndRankPattern() {
        List<Site> sites = List.of(LAYER_0_Q, LAYER_0_V, LAYER_1_Q, LAYER_1_V);
        MethodInstance instance = create(Map.of("r", 4, "lora_bias", true, "rank_pattern", Map.of("layers\\.1\\.self_attn\\.v_proj", 8)));
        // 2·4·128 + 4·96 + 8·96 for the matrices, plus 64 + 32 + 64 + 32 for the lora_B biases.
        assertThat(instance.trainableParameterCount(sites)).isEqualTo(2_368L);
        assertThat(realParameterCount(instance, sites)).isEqualTo(2_368L);
    }

    @Test
    void testDoraParameterCountOnMiniLmQueryAndValue() {
        // all-MiniLM-L6-v2: 6 layers of query and value, 384→384. LoRA r = 8: 12·8·(384 + 384) = 73,728; DoRA adds one
        // magnitude per output row, 12·384 = 4,608: 78,336.
        List<Site> sites = new ArrayList<>();
        for (int layer = 0; layer < 6; layer++) {
            sites.add(new LinearSite("encoder.layer." + layer + ".attention.self.query", layer, 384, 384, true));
            sites.add(new LinearSite("encoder.layer." + layer + ".attention.self.value", layer, 384, 384, true));
        }
        MethodInstance lora = create(Map.of("r", 8));
        MethodInstance dora = create(Map.of("r", 8, "use_dora", true));
        assertThat(lora.trainableParameterCount(sites)).isEqualTo(73_728L);
        assertThat(dora.trainableParameterCount(sites)).isEqualTo(78_336L);
        assertThat(realParameterCount(dora, sites)).isEqualTo(78_336L);
        assertThat(dora.attach(sites.get(0))).isInstanceOf(DoraModule.class);
    }

    @Test
    void testDoraHasNoWeightedCombinationOptions() {
        // a weighted combination yields plain low-rank factors, which cannot carry DoRA's magnitude
        MethodInstance dora = create(Map.of("r", 4, "use_dora", true));
        assertThat(dora.optionsForRanks(Map.of(LAYER_0_Q.name(), 4))).isEmpty();
    }

    @Test
    void testAttachesToLinearSitesOnly() {
        MethodInstance instance = create(Map.of());
        SublayerSite sublayer = new SublayerSite("model.layers.0.mlp", 0, SublayerKind.FEED_FORWARD, 64);
        assertThat(instance.accepts(LAYER_0_Q)).isTrue();
        assertThat(instance.accepts(sublayer)).isFalse();
        assertThatThrownBy(() -> instance.attach(sublayer))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("Method 'lora' attaches to linear sites only, but model.layers.0.mlp is a SUBLAYER site");
    }

    static Stream<Arguments> badOptions() {
        return Stream.of(
                Arguments.of(Map.of("r", 0),
                        "Method 'lora': option 'r' is 0, but must be a whole number >= 1. Fix the value."),
                Arguments.of(Map.of("lora_dropout", 1.0),
                        "Method 'lora': option 'lora_dropout' is 1.0, but must be a number in [0, 1). Fix the value."),
                Arguments.of(Map.of("lora_dropout", -0.1),
                        "Method 'lora': option 'lora_dropout' is -0.1, but must be a number in [0, 1). Fix the value."),
                Arguments.of(Map.of("rank_pattern", Map.of("q_proj", 2.5)),
                        "Method 'lora': option 'rank_pattern' must be a map from names to whole numbers, but is {q_proj=2.5}. Fix the value."),
                Arguments.of(Map.of("rank_pattern", Map.of("q_proj", 0)),
                        "Method 'lora': option 'rank_pattern' maps 'q_proj' to 0, but must be a map from names to whole numbers, each >= 1. Fix the value."),
                Arguments.of(Map.of("alpha_pattern", Map.of("v_proj", -1)),
                        "Method 'lora': option 'alpha_pattern' maps 'v_proj' to -1.0, but must be a map from names to numbers, each > 0. Fix the value."),
                Arguments.of(Map.of("bias", "all"),
                        "Method 'lora': option 'bias' is \"all\", but must be \"none\": Graft's LoRA never trains the base biases. Fix the value."),
                Arguments.of(Map.of("bias", "lora_only"),
                        "Method 'lora': option 'bias' is \"lora_only\", but must be \"none\": Graft's LoRA never trains the base biases. Fix the value."),
                Arguments.of(Map.of("fan_in_fan_out", true),
                        "Method 'lora': option 'fan_in_fan_out' is true, but must be false: Graft linear sites always store W as (out, in). Fix the value."),
                Arguments.of(Map.of("use_dora", true, "lora_bias", true),
                        "Method 'lora': options 'use_dora' and 'lora_bias' are both true, but DoRA has no lora_B bias (PEFT refuses the pair too); set one of them to false."));
    }

    @ParameterizedTest
    @MethodSource("badOptions")
    void testBadOptionsAreRejectedWithTheDocumentedMessage(Map<String, Object> options, String message) {
        assertThatThrownBy(() -> create(options))
                .isInstanceOf(InvalidOptionsException.class)
                .hasMessage(message);
    }

    @Test
    void testPatternKeyThatIsNotARegularExpressionIsRejected() {
        assertThatThrownBy(() -> create(Map.of("rank_pattern", Map.of("q_proj(", 4))))
                .isInstanceOf(InvalidOptionsException.class)
                .hasMessageStartingWith("Method 'lora': option 'rank_pattern' has key 'q_proj(', which is not a valid regular expression (")
                .hasMessageEndingWith("fix or escape the key.");
    }

    @Test
    void testSchemaRejectsInitializationsGraftDoesNotHave() {
        String allowed = "Allowed values: true, false, \"gaussian\", \"pissa\", \"pissa_niter_{n}\", \"olora\", \"eva\".";
        for (String initialization : List.of("loftq", "corda", "pissa_niter_", "pissa_niter_x", "pissa_niter_-1")) {
            assertThatThrownBy(() -> method.descriptor().options().validate("lora", Map.of("init_lora_weights", initialization)))
                    .isInstanceOf(InvalidOptionsException.class)
                    .hasMessage("Method 'lora': option 'init_lora_weights' is \"" + initialization + "\", which is not allowed. " + allowed);
        }
        assertThat(method.descriptor().options().validate("lora", Map.of("init_lora_weights", "pissa_niter_16")).get("init_lora_weights")).isEqualTo("pissa_niter_16");
    }

    private MethodInstance create(Map<String, ?> options) {
        return method.create(method.descriptor().options().validate("lora", options), FixedModelContext.smallLlama());
    }

    private LoraModule attach(Map<String, ?> options, LinearSite site) {
        MethodModule module = create(options).attach(site);
        assertThat(module).isInstanceOf(LoraModule.class);
        return (LoraModule) module;
    }

    private static float[] initializedValues(LoraModule module, NDManager manager, String name) {
        module.initialize(manager, DataType.FLOAT32, new Shape(1, module.site().inFeatures()));
        return module.getParameters().get(name).getArray().toFloatArray();
    }

    private static long realParameterCount(MethodInstance instance, List<Site> sites) {
        List<Long> sizes = new ArrayList<>();
        for (Site site : sites) {
            instance.attach(site).getParameters().values().forEach(parameter -> sizes.add(parameter.getShape().size()));
        }
        return sizes.stream().mapToLong(Long::longValue).sum();
    }
}

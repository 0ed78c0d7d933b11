package dev.graft.runtime.targeting;

import dev.graft.spi.LinearSite;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import static dev.graft.runtime.targeting.ModelSites.bert;
import static dev.graft.runtime.targeting.ModelSites.llama;
import static dev.graft.runtime.targeting.ModelSites.names;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

final class TestTargetSelector {
    private static final Set<String> LM_HEAD = Set.of("lm_head");
    private static final String LLAMA_LISTING = " The model's 15 modules include model.layers.0.self_attn.q_proj, model.layers.0.self_attn.k_proj,"
            + " model.layers.0.self_attn.v_proj, model.layers.0.self_attn.o_proj, model.layers.0.mlp.gate_proj;"
            + " their names end in [q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj, lm_head].";

    @Test
    void testExactName() {
        assertThat(selectLlama(Map.of("target_modules", List.of("model.layers.1.self_attn.q_proj", "lm_head"))))
                .containsExactly("model.layers.1.self_attn.q_proj", "lm_head");
    }

    @Test
    void testSuffixMatchNeedsAWholeSegment() {
        assertThat(selectLlama(Map.of("target_modules", List.of("q_proj"))))
                .containsExactly("model.layers.0.self_attn.q_proj", "model.layers.1.self_attn.q_proj");
        assertThat(selectLlama(Map.of("target_modules", List.of("mlp.down_proj", "self_attn.o_proj"))))
                .containsExactly("model.layers.0.self_attn.o_proj", "model.layers.0.mlp.down_proj", "model.layers.1.self_attn.o_proj", "model.layers.1.mlp.down_proj");
        assertThatThrownBy(() -> selectLlama(Map.of("target_modules", List.of("proj"))))
                .isInstanceOf(TargetingException.class)
                .hasMessage("Target modules [proj] not found in the base model. Please check the target modules and try again." + LLAMA_LISTING);
    }

    @Test
    void testRegexMustMatchTheFullName() {
        assertThat(selectLlama(Map.of("target_modules", ".*\\.(q|v)_proj")))
                .containsExactly("model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj", "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj");
        assertThat(selectLlama(Map.of("target_modules", "model\\.layers\\.1\\.mlp\\..*")))
                .containsExactly("model.layers.1.mlp.gate_proj", "model.layers.1.mlp.up_proj", "model.layers.1.mlp.down_proj");
        assertThatThrownBy(() -> selectLlama(Map.of("target_modules", "(q|v)_proj")))
                .isInstanceOf(TargetingException.class)
                .hasMessageStartingWith("Target modules '(q|v)_proj' not found in the base model.");
    }

    @Test
    void testRegexAcceptsPythonNamedGroups() {
        assertThat(selectLlama(Map.of("target_modules", ".*\\.(?P<kind>gate|up)_proj")))
                .containsExactly("model.layers.0.mlp.gate_proj", "model.layers.0.mlp.up_proj", "model.layers.1.mlp.gate_proj", "model.layers.1.mlp.up_proj");
        assertThat(selectLlama(Map.of("target_modules", "model\\.layers\\.(?P<n>\\d)\\.self_attn\\.k_proj")))
                .containsExactly("model.layers.0.self_attn.k_proj", "model.layers.1.self_attn.k_proj");
    }

    @Test
    void testAllLinearLeavesOutTheOutputLayer() {
        List<String> allButHead = names(llama()).subList(0, 14);
        assertThat(selectLlama(Map.of("target_modules", "all-linear"))).containsExactlyElementsOf(allButHead);
        assertThat(selectLlama(Map.of("target_modules", "ALL-Linear"))).containsExactlyElementsOf(allButHead);
        assertThat(names(TargetSelector.select(TargetRules.fromConfig(Map.of("target_modules", "all-linear")), bert(), Set.of(), List.of())))
                .hasSize(13)
                .contains("pooler.dense");
    }

    @Test
    void testAllLinearMatchesSuffixesOfTheExpandedNames() {
        // PEFT expands "all-linear" to full names and then matches them as a list, suffixes included: the output
        // layer "head.out" comes back because the top-level module "out" is a suffix of it
        List<LinearSite> sites = List.of(new LinearSite("out", -1, 4, 4, false), new LinearSite("head.out", -1, 4, 2, false));
        assertThat(names(TargetSelector.select(TargetRules.targeting(ModulePatterns.allLinear()), sites, Set.of("head.out"), List.of())))
                .containsExactly("out", "head.out");
    }

    @Test
    void testExcludeListWins() {
        assertThat(selectLlama(Map.of("target_modules", List.of("q_proj", "v_proj"), "exclude_modules", List.of("model.layers.0.self_attn.q_proj", "layers.1.self_attn.v_proj"))))
                .containsExactly("model.layers.0.self_attn.v_proj", "model.layers.1.self_attn.q_proj");
        assertThat(selectLlama(Map.of("target_modules", "all-linear", "exclude_modules", List.of("down_proj", "up_proj", "gate_proj"))))
                .containsExactly("model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj", "model.layers.0.self_attn.v_proj", "model.layers.0.self_attn.o_proj",
                        "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.k_proj", "model.layers.1.self_attn.v_proj", "model.layers.1.self_attn.o_proj");
    }

    @Test
    void testExcludeRegexWins() {
        assertThat(selectLlama(Map.of("target_modules", "all-linear", "exclude_modules", ".*(self_attn|layers\\.0)\\..*")))
                .containsExactly("model.layers.1.mlp.gate_proj", "model.layers.1.mlp.up_proj", "model.layers.1.mlp.down_proj");
        // a partial match does not exclude
        assertThat(selectLlama(Map.of("target_modules", List.of("q_proj"), "exclude_modules", "q_proj")))
                .containsExactly("model.layers.0.self_attn.q_proj", "model.layers.1.self_attn.q_proj");
    }

    @Test
    void testLayersToTransformAsIntegerOrList() {
        assertThat(selectLlama(Map.of("target_modules", List.of("q_proj", "v_proj"), "layers_to_transform", 1)))
                .containsExactly("model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj");
        assertThat(selectLlama(Map.of("target_modules", List.of("q_proj"), "layers_to_transform", List.of(1, 0))))
                .containsExactly("model.layers.0.self_attn.q_proj", "model.layers.1.self_attn.q_proj");
        assertThatThrownBy(() -> selectLlama(Map.of("target_modules", List.of("q_proj"), "layers_to_transform", List.of(7))))
                .isInstanceOf(TargetingException.class)
                .hasMessage("Target modules [q_proj] not found in the base model. Please check the target modules and try again."
                        + " Note: you specified layers_to_transform [7] without layers_pattern, so the layer index is the first numbered segment of a name." + LLAMA_LISTING);
    }

    @Test
    void testLayersToTransformSkipsExactNames() {
        assertThat(selectLlama(Map.of("target_modules", List.of("model.layers.0.self_attn.q_proj", "v_proj"), "layers_to_transform", List.of(1))))
                .containsExactly("model.layers.0.self_attn.q_proj", "model.layers.1.self_attn.v_proj");
    }

    @Test
    void testLayersPattern() {
        Map<String, Object> config = Map.of("target_modules", List.of("query", "value"), "layers_to_transform", List.of(1), "layers_pattern", "layer");
        assertThat(names(TargetSelector.select(TargetRules.fromConfig(config), bert(), Set.of(), List.of())))
                .containsExactly("encoder.layer.1.attention.self.query", "encoder.layer.1.attention.self.value");

        Map<String, Object> listOfPatterns = Map.of("target_modules", List.of("q_proj"), "layers_to_transform", List.of(0), "layers_pattern", List.of("blocks", "layers"));
        assertThat(selectLlama(listOfPatterns)).containsExactly("model.layers.0.self_attn.q_proj");

        Map<String, Object> wrongPattern = Map.of("target_modules", List.of("query"), "layers_to_transform", List.of(0), "layers_pattern", "layers");
        assertThatThrownBy(() -> TargetSelector.select(TargetRules.fromConfig(wrongPattern), bert(), Set.of(), List.of()))
                .isInstanceOf(TargetingException.class)
                .hasMessageStartingWith("Target modules [query] not found in the base model. Please check the target modules and try again."
                        + " Note: you specified layers_to_transform [0] and layers_pattern [layers]. The model's 13 modules include encoder.layer.0.attention.self.query,");
    }

    @Test
    void testLayerIndexIsTheFirstNumberedSegmentAfterTwoSegments() {
        List<LinearSite> sites = List.of(
                new LinearSite("model.layers.1.mlp.experts.0.up_proj", 1, 8, 8, false),
                new LinearSite("model.layers.0.mlp.experts.1.up_proj", 0, 8, 8, false),
                new LinearSite("layers.1.up_proj", 1, 8, 8, false));
        TargetRules layerOne = TargetRules.fromConfig(Map.of("target_modules", List.of("up_proj"), "layers_to_transform", 1));
        // the expert index does not count, and a name that starts with the layer list has no index at all
        assertThat(names(TargetSelector.select(layerOne, sites, Set.of(), List.of()))).containsExactly("model.layers.1.mlp.experts.0.up_proj");
    }

    @Test
    void testLayerIndexComesFromTheNameNotTheSite() {
        List<LinearSite> sites = List.of(new LinearSite("model.layers.0.self_attn.q_proj", 5, 8, 8, false));
        TargetRules layerFive = TargetRules.fromConfig(Map.of("target_modules", List.of("q_proj"), "layers_to_transform", 5));
        assertThatThrownBy(() -> TargetSelector.select(layerFive, sites, Set.of(), List.of()))
                .isInstanceOf(TargetingException.class)
                .hasMessageStartingWith("Target modules [q_proj] not found in the base model.");
    }

    @Test
    void testDefaultTargets() {
        assertThat(names(TargetSelector.select(TargetRules.defaults(), llama(), LM_HEAD, List.of("q_proj", "v_proj"))))
                .containsExactly("model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj", "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj");
        TargetRules defaultsInLayerZero = TargetRules.fromConfig(Map.of("layers_to_transform", List.of(0)));
        assertThat(names(TargetSelector.select(defaultsInLayerZero, bert(), Set.of(), List.of("query", "value"))))
                .containsExactly("encoder.layer.0.attention.self.query", "encoder.layer.0.attention.self.value");
    }

    @Test
    void testNoTargetsAndNoDefaults() {
        assertThatThrownBy(() -> TargetSelector.select(TargetRules.defaults(), bert(), Set.of(), List.of()))
                .isInstanceOf(TargetingException.class)
                .hasMessage("target_modules is not set and the method has no default targets for this architecture; set target_modules to a list of module names"
                        + " (the model's module names end in [query, key, value, dense]), to a regular expression or to \"all-linear\"");
    }

    @Test
    void testEverythingExcluded() {
        assertThatThrownBy(() -> selectLlama(Map.of("target_modules", List.of("q_proj"), "exclude_modules", ".*")))
                .isInstanceOf(TargetingException.class)
                .hasMessage("All modules were excluded: exclude_modules '.*' matches every module of the model, so target_modules [q_proj] has nothing to select."
                        + " Check target_modules and exclude_modules." + LLAMA_LISTING);
    }

    @Test
    void testTargetsAllExcluded() {
        assertThatThrownBy(() -> selectLlama(Map.of("target_modules", List.of("q_proj"), "exclude_modules", List.of("q_proj"))))
                .isInstanceOf(TargetingException.class)
                .hasMessage("No modules were targeted for adaptation: target_modules [q_proj] matches none of the modules exclude_modules [q_proj] leaves."
                        + " Check target_modules and exclude_modules." + LLAMA_LISTING);
    }

    @Test
    void testEmptyTargetList() {
        assertThatThrownBy(() -> selectLlama(Map.of("target_modules", List.of())))
                .isInstanceOf(TargetingException.class)
                .hasMessage("target_modules is an empty list, so no module is targeted; list module names or give a regular expression." + LLAMA_LISTING);
    }

    @Test
    void testNoSites() {
        assertThatThrownBy(() -> TargetSelector.select(TargetRules.targeting(ModulePatterns.names(List.of("q_proj"))), List.of(), Set.of(), List.of()))
                .isInstanceOf(TargetingException.class)
                .hasMessage("Target modules [q_proj] not found in the base model: the model has no sites of this kind");
    }

    @Test
    void testSelectionIsImmutableAndInModelOrder() {
        TargetRules rules = new TargetRules(Optional.of(ModulePatterns.names(List.of("down_proj", "q_proj"))), Optional.empty(), List.of(), List.of());
        List<LinearSite> selected = TargetSelector.select(rules, llama(), LM_HEAD, List.of());

        assertThat(selected).extracting(LinearSite::layerIndex).containsExactly(0, 0, 1, 1);
        assertThat(names(selected)).containsExactly("model.layers.0.self_attn.q_proj", "model.layers.0.mlp.down_proj", "model.layers.1.self_attn.q_proj", "model.layers.1.mlp.down_proj");
        assertThatThrownBy(() -> selected.add(selected.get(0))).isInstanceOf(UnsupportedOperationException.class);
    }

    private static List<String> selectLlama(Map<String, ?> config) {
        return names(TargetSelector.select(TargetRules.fromConfig(config), llama(), LM_HEAD, List.of()));
    }
}

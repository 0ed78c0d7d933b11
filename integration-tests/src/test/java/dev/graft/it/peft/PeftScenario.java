package dev.graft.it.peft;

import static java.util.Objects.requireNonNull;

import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.peft.AdapterSpec;
import dev.graft.runtime.targeting.TargetRules;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One adapter configuration as both sides see it: the fields a user sets ({@code r}, {@code target_modules}, ...),
 * the folder Python PEFT 0.14 would save for it with known tensors, and what PEFT computes with those tensors.
 *
 * @param name what the test reports
 * @param fields the config fields that differ from PEFT's defaults: Graft's options and targeting rules
 * @param peft the folder PEFT writes: every config field and the tensors under their hand-listed keys
 * @param effect what {@code peft}'s tensors do in PEFT, written out independently of the plugin: a hand merge into
 *        the base weights, or virtual tokens
 * @param fieldsGraftDoesNotKnow the PEFT config fields the method does not know, which load with one warning
 */
record PeftScenario(String name, Map<String, Object> fields, PeftAdapter peft, PeftEffect effect, List<String> fieldsGraftDoesNotKnow) {
    private static final Set<String> TARGETING_FIELDS = Set.of(
            TargetRules.TARGET_MODULES, TargetRules.EXCLUDE_MODULES, TargetRules.LAYERS_TO_TRANSFORM, TargetRules.LAYERS_PATTERN);

    PeftScenario {
        requireNonNull(name, "name is null");
        fields = Collections.unmodifiableMap(new LinkedHashMap<>(requireNonNull(fields, "fields is null")));
        requireNonNull(peft, "peft is null");
        requireNonNull(effect, "effect is null");
        fieldsGraftDoesNotKnow = List.copyOf(fieldsGraftDoesNotKnow);
    }

    /** The same configuration as a Graft recipe would give it: the fields as options, the targeting fields as rules. */
    AdapterSpec graftSpec(String adapterName) {
        Map<String, Object> options = new LinkedHashMap<>(fields);
        options.keySet().removeAll(TARGETING_FIELDS);
        return new AdapterSpec(adapterName, options, TargetRules.fromConfig(fields), Composition.SUM);
    }

    @Override
    public String toString() {
        return name;
    }
}

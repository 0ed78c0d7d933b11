package dev.graft.plugin.lora;

import static dev.graft.spi.InvalidOptionsException.wrongTogether;

import com.google.auto.service.AutoService;
import dev.graft.spi.LinearMethod;
import dev.graft.spi.LinearSite;
import dev.graft.spi.MergeableLinearModule;
import dev.graft.spi.MethodModule;
import dev.graft.spi.PeftMethod;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * Low-rank adaptation (LoRA, Hu et al. 2021) with Hugging Face PEFT's semantics, options and checkpoint layout:
 * each targeted linear layer gets {@code y = x·Wᵀ + b + s·B(A(dropout(x)))} with {@code A (r×in)},
 * {@code B (out×r)} and {@code s = α/r} (or {@code α/√r} with {@code use_rslora}). Supports {@code rank_pattern} and
 * {@code alpha_pattern}, the {@code true}, {@code "gaussian"}, {@code false}, {@code "pissa"}, {@code "pissa_niter_K"} and
 * {@code "olora"} initializations (the last three derived from the base weight, with PEFT's conversion to a plain LoRA
 * of rank {@code 2r} on save), {@code lora_bias}, dropout, DoRA ({@code use_dora}, a {@link DoraModule} per site
 * instead of a {@link LoraModule}), and merging into the base weights. {@code fan_in_fan_out} and bias training are
 * rejected.
 *
 * <p>Adapters save as PEFT's {@code adapter_model.safetensors} keys
 * ({@code base_model.model.<module>.lora_A.weight}, {@code ...lora_B.weight}, with DoRA
 * {@code ...lora_magnitude_vector}) with {@code peft_type: LORA}.
 */
@AutoService(PeftMethod.class)
public final class LoraMethod extends LinearMethod<LoraConfiguration> {
    /** Creates the provider; it holds no tensors. */
    public LoraMethod() {
        super(LoraConfiguration.class, describe()
                .setId(LoraConfiguration.METHOD_ID)
                .setVersion("0.1.0")
                .setSpiVersion(SPI_VERSION)
                .setPeftType("LORA")
                .setModuleType(MergeableLinearModule.class)
                .optDefaultTargets(Map.of(
                        "llama", List.of("q_proj", "v_proj"),
                        "bert", List.of("query", "value"),
                        "roberta", List.of("query", "value")))
                .setDescription("Low-rank adaptation: W + (α/r)·B·A on linear layers (Hugging Face PEFT compatible, rsLoRA, rank/alpha patterns)"));
    }

    @Override
    protected MethodModule module(LoraConfiguration options, LinearSite site) {
        requireRankWithinLayer(LoraConfiguration.METHOD_ID, LoraConfiguration.RANK, options.rankFor(site.name()), site);
        if (options.useDora()) {
            return DoraModule.builder(site)
                    .setRank(options.rankFor(site.name()))
                    .optScaling(options.scalingFor(site.name()))
                    .optDropout((float) options.dropout())
                    .optInitialization(options.initialization())
                    .build();
        }
        return LoraModule.builder(site)
                .setRank(options.rankFor(site.name()))
                .optScaling(options.scalingFor(site.name()))
                .optDropout((float) options.dropout())
                .optInitialization(options.initialization())
                .optPowerIterations(Math.max(options.powerIterations(), 0))
                .optUpBias(options.loraBias())
                .build();
    }

    /** {@code r·(in + out)} at the site's rank, plus {@code out} with {@code lora_bias} or with DoRA's magnitude. */
    @Override
    protected long parameterCount(LoraConfiguration options, LinearSite site) {
        long rank = options.rankFor(site.name());
        return rank * (site.inFeatures() + site.outFeatures()) + (options.loraBias() || options.useDora() ? site.outFeatures() : 0);
    }

    /**
     * PEFT's config for a PiSSA or OLoRA adapter saved with {@code path_initial_model_for_weight_conversion}:
     * {@code init_lora_weights: true}, {@code r} doubled, {@code lora_alpha} doubled ({@code ·√2} with rsLoRA, which
     * keeps {@code α/√r}), {@code rank_pattern} and {@code alpha_pattern} values doubled. Empty for an initialization
     * not derived from the base.
     *
     * @throws dev.graft.spi.InvalidOptionsException with rsLoRA and a rank or alpha pattern, which PEFT refuses too
     */
    @Override
    protected Optional<Map<String, Object>> optionsForConvertedState(LoraConfiguration configuration, Map<String, Object> rawOptions) {
        if (!configuration.initialization().derivesFromBase()) {
            return Optional.empty();
        }
        if (configuration.useRslora() && (!configuration.rankPattern().isEmpty() || !configuration.alphaPattern().isEmpty())) {
            throw wrongTogether(LoraConfiguration.METHOD_ID, "converting to a plain LoRA (path_initial_model_for_weight_conversion) is not supported "
                    + "with rank_pattern or alpha_pattern together with use_rslora, as in PEFT: the doubled rank would change α/√r per pattern. "
                    + "Save without conversion, or train without use_rslora");
        }
        Map<String, Object> options = new LinkedHashMap<>(rawOptions);
        options.put(LoraConfiguration.INIT_LORA_WEIGHTS, true);
        options.put(LoraConfiguration.RANK, 2 * configuration.rank());
        options.put(LoraConfiguration.ALPHA, configuration.useRslora() ? configuration.alpha() * Math.sqrt(2) : 2 * configuration.alpha());
        Map<String, Integer> rankPattern = new LinkedHashMap<>();
        configuration.rankPattern().forEach((key, rank) -> rankPattern.put(key, 2 * rank));
        Map<String, Double> alphaPattern = new LinkedHashMap<>();
        configuration.alphaPattern().forEach((key, alpha) -> alphaPattern.put(key, 2 * alpha));
        options.put(LoraConfiguration.RANK_PATTERN, rankPattern);
        options.put(LoraConfiguration.ALPHA_PATTERN, alphaPattern);
        return Optional.of(options);
    }

    /**
     * Options giving rank {@code ranksBySite} per site with scaling 1 ({@code lora_alpha = r}, as PEFT's
     * {@code add_weighted_adapter} sets), keeping dropout; sites off the most common rank go into
     * {@code rank_pattern}/{@code alpha_pattern} as escaped full names. Empty with {@code lora_bias} or DoRA, which a
     * product of factors cannot carry.
     */
    @Override
    protected Optional<Map<String, Object>> optionsForRanks(LoraConfiguration configuration, Map<String, Integer> ranksBySite) {
        if (configuration.loraBias() || configuration.useDora() || ranksBySite.isEmpty()) {
            return Optional.empty();
        }
        Map<Integer, Long> frequency = ranksBySite.values().stream().collect(Collectors.groupingBy(rank -> rank, TreeMap::new, Collectors.counting()));
        int common = Collections.max(frequency.entrySet(), Map.Entry.comparingByValue()).getKey();
        Map<String, Integer> rankPattern = new LinkedHashMap<>();
        Map<String, Double> alphaPattern = new LinkedHashMap<>();
        ranksBySite.forEach((site, rank) -> {
            if (rank != common) {
                String key = site.replace(".", "\\.");
                rankPattern.put(key, rank);
                alphaPattern.put(key, (double) rank);
            }
        });
        Map<String, Object> options = new LinkedHashMap<>();
        options.put(LoraConfiguration.RANK, common);
        options.put(LoraConfiguration.ALPHA, (double) common);
        options.put(LoraConfiguration.DROPOUT, configuration.dropout());
        options.put(LoraConfiguration.RANK_PATTERN, rankPattern);
        options.put(LoraConfiguration.ALPHA_PATTERN, alphaPattern);
        return Optional.of(options);
    }
}

package dev.graft.plugin.lora;

import static dev.graft.spi.LinearModuleBlock.requireLinear;
import static java.util.Objects.requireNonNull;

import dev.graft.spi.LinearSite;
import dev.graft.spi.MethodInstance;
import dev.graft.spi.Site;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Collectors;

/** One LoRA adapter on one model: a {@link LoraModule} per selected linear site, ranks and alphas per site. */
final class LoraInstance implements MethodInstance {
    private final LoraConfiguration configuration;

    LoraInstance(LoraConfiguration configuration) {
        this.configuration = requireNonNull(configuration, "configuration is null");
    }

    @Override
    public boolean accepts(Site site) {
        return requireNonNull(site, "site is null") instanceof LinearSite;
    }

    @Override
    public LoraModule attach(Site site) {
        LinearSite linear = requireLinear(site, LoraConfiguration.METHOD_ID);
        return new LoraModule(
                linear,
                configuration.rankFor(linear.name()),
                configuration.scalingFor(linear.name()),
                (float) configuration.dropout(),
                configuration.initialization(),
                configuration.loraBias());
    }

    /** {@code Σ r·(in + out)} over the sites, plus {@code out} per site with {@code lora_bias}. */
    @Override
    public long trainableParameterCount(List<Site> sites) {
        long count = 0;
        for (Site site : requireNonNull(sites, "sites is null")) {
            LinearSite linear = requireLinear(site, LoraConfiguration.METHOD_ID);
            long rank = configuration.rankFor(linear.name());
            count += rank * (linear.inFeatures() + linear.outFeatures());
            if (configuration.loraBias()) {
                count += linear.outFeatures();
            }
        }
        return count;
    }

    /**
     * Options giving rank {@code ranksBySite} per site with scaling 1 ({@code lora_alpha = r}, as PEFT's
     * {@code add_weighted_adapter} sets), keeping dropout; sites off the most common rank go into
     * {@code rank_pattern}/{@code alpha_pattern} as escaped full names. Empty with {@code lora_bias}, which a
     * product of factors cannot carry.
     */
    @Override
    public Optional<Map<String, Object>> optionsForRanks(Map<String, Integer> ranksBySite) {
        if (configuration.loraBias() || ranksBySite.isEmpty()) {
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

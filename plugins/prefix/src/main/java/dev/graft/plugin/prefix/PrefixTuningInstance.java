package dev.graft.plugin.prefix;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import dev.graft.spi.AttentionSite;
import dev.graft.spi.MethodInstance;
import dev.graft.spi.Site;

import java.util.List;
import java.util.Map;

/** One prefix-tuning adapter on one model: a shared {@link PrefixEncoder} and a {@link PrefixTuningModule} per attention layer. */
final class PrefixTuningInstance implements MethodInstance {
    private final PrefixEncoder encoder;

    PrefixTuningInstance(PrefixEncoder encoder) {
        this.encoder = requireNonNull(encoder, "encoder is null");
    }

    /** Attention sites only: an adapter asked directly about another site says no. */
    @Override
    public boolean accepts(Site site) {
        return requireNonNull(site, "site is null") instanceof AttentionSite;
    }

    /**
     * Checks that every site's layer and key/value width fit the prefix.
     *
     * @throws IllegalArgumentException naming the site otherwise
     */
    @Override
    public void prepare(List<Site> sites) {
        for (Site site : requireNonNull(sites, "sites is null")) {
            attention(site);
        }
    }

    @Override
    public Map<String, Parameter> sharedParameters() {
        return encoder.parameters();
    }

    @Override
    public PrefixTuningModule attach(Site site) {
        return new PrefixTuningModule(attention(site), encoder);
    }

    /** {@code n·L·2·d} for the flat prefix, or the projection MLP's parameters; the same whatever the sites. */
    @Override
    public long trainableParameterCount(List<Site> sites) {
        requireNonNull(sites, "sites is null");
        return encoder.trainableParameterCount();
    }

    /** The flat prefix {@code (n, L·2·d)} as PEFT's single key {@code prompt_embeddings}, projection or not. */
    @Override
    public Map<String, NDArray> saveSharedState(NDManager manager) {
        return Map.of(PrefixEncoder.PROMPT_EMBEDDINGS, encoder.flatPrefix(requireNonNull(manager, "manager is null")));
    }

    /** Loads {@code prompt_embeddings}; see {@link PrefixEncoder#load} for what happens with projection. */
    @Override
    public void loadSharedState(Map<String, NDArray> state) {
        encoder.load(state);
    }

    private AttentionSite attention(Site site) {
        requireNonNull(site, "site is null");
        if (!(site instanceof AttentionSite)) {
            throw new IllegalArgumentException(format(
                    "Method '%s' attaches to attention sites only, but %s is a %s site", PrefixConfiguration.METHOD_ID, site.name(), site.kind()));
        }
        AttentionSite attention = (AttentionSite) site;
        if (attention.layerIndex() < 0 || attention.layerIndex() >= encoder.numLayers() || attention.keyValueWidth() != encoder.keyValueWidth()) {
            throw new IllegalArgumentException(format(
                    "Method '%s': attention site %s (layer %d, key/value width %d) does not fit the prefix, which covers layers 0 to %d of width %d",
                    PrefixConfiguration.METHOD_ID, site.name(), attention.layerIndex(), attention.keyValueWidth(), encoder.numLayers() - 1, encoder.keyValueWidth()));
        }
        return attention;
    }
}

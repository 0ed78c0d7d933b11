package dev.graft.plugin.prompt;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.initializer.Initializer;
import dev.graft.spi.EmbeddingSite;
import dev.graft.spi.MethodInstance;
import dev.graft.spi.Site;

import java.util.List;
import java.util.Map;

/**
 * One prompt-tuning adapter on one model: the shared parameter {@value #PROMPT_EMBEDDINGS} {@code (n, hidden)}, saved
 * under that single key as PEFT does, and a {@link PromptTuningModule} at the embedding site.
 */
final class PromptTuningInstance implements MethodInstance {
    /** The parameter and checkpoint key of the virtual token embeddings, PEFT's {@code prompt_embeddings}. */
    static final String PROMPT_EMBEDDINGS = "prompt_embeddings";

    private final Parameter promptEmbeddings;

    PromptTuningInstance(int numVirtualTokens, int hiddenSize, Initializer initializer) {
        requireNonNull(initializer, "initializer is null");
        this.promptEmbeddings = Parameter.builder()
                .setName(PROMPT_EMBEDDINGS)
                .setType(Parameter.Type.WEIGHT)
                .optShape(new Shape(numVirtualTokens, hiddenSize))
                .optInitializer(initializer)
                .build();
    }

    /** The embedding site only: an adapter asked directly about another site says no. */
    @Override
    public boolean accepts(Site site) {
        return requireNonNull(site, "site is null") instanceof EmbeddingSite;
    }

    /** The virtual token embeddings, keyed {@value #PROMPT_EMBEDDINGS}; saved and loaded under that key unchanged. */
    @Override
    public Map<String, Parameter> sharedParameters() {
        return Map.of(PROMPT_EMBEDDINGS, promptEmbeddings);
    }

    @Override
    public PromptTuningModule attach(Site site) {
        requireNonNull(site, "site is null");
        if (!(site instanceof EmbeddingSite)) {
            throw new IllegalArgumentException(format(
                    "Method '%s' attaches to the embedding site only, but %s is a %s site", PromptConfiguration.METHOD_ID, site.name(), site.kind()));
        }
        EmbeddingSite embedding = (EmbeddingSite) site;
        if (embedding.hiddenSize() != promptEmbeddings.getShape().get(1)) {
            throw new IllegalArgumentException(format("Method '%s': embedding site %s is %d wide, but the prompt is %d wide",
                    PromptConfiguration.METHOD_ID, site.name(), embedding.hiddenSize(), promptEmbeddings.getShape().get(1)));
        }
        return new PromptTuningModule(embedding, promptEmbeddings);
    }

    /** {@code n·hidden}, the prompt embeddings, whatever the sites. */
    @Override
    public long trainableParameterCount(List<Site> sites) {
        requireNonNull(sites, "sites is null");
        return promptEmbeddings.getShape().size();
    }
}

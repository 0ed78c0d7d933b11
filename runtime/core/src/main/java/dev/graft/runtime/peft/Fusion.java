package dev.graft.runtime.peft;

import static java.util.Objects.requireNonNull;

import ai.djl.nn.Parameter;
import dev.graft.runtime.compose.Fuse;
import dev.graft.runtime.compose.FusionLayer;
import dev.graft.spi.Site;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One named AdapterFusion on a {@link PeftModel} ({@link PeftModel#addFusion}): the {@link Fuse} block it was made
 * for and one runtime-owned {@link FusionLayer} per sublayer site where a fused adapter has a module. Its parameters
 * are trainable; the fused adapters are not.
 */
public final class Fusion {
    private final Fuse block;
    private final Map<Site, FusionLayer> layers;
    private boolean trainable = true;

    Fusion(Fuse block, Map<Site, FusionLayer> layers) {
        this.block = requireNonNull(block, "block is null");
        this.layers = Collections.unmodifiableMap(new LinkedHashMap<>(requireNonNull(layers, "layers is null")));
    }

    /** The fusion's name. */
    public String name() {
        return block.name();
    }

    /** The block this fusion combines by. */
    public Fuse block() {
        return block;
    }

    /** The fused adapters, in block order. */
    public List<String> adapterNames() {
        return block.adapterNames();
    }

    /** The fusion layer at each site, in model order. */
    public Map<Site, FusionLayer> layers() {
        return layers;
    }

    /** Every fusion parameter: query, key and value of each layer. */
    public List<Parameter> parameters() {
        List<Parameter> parameters = new ArrayList<>();
        layers.values().forEach(layer -> parameters.addAll(layer.fusionParameters()));
        return parameters;
    }

    public boolean isTrainable() {
        return trainable;
    }

    void setTrainable(boolean trainable) {
        parameters().forEach(parameter -> parameter.freeze(!trainable));
        this.trainable = trainable;
    }
}

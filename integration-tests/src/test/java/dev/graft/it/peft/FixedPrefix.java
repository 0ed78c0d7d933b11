package dev.graft.it.peft;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.graft.spi.PrefixKeyValues;
import dev.graft.spi.PrefixModule;
import dev.graft.spi.Site;

/**
 * Given virtual keys and values for one attention layer, {@code [heads][n][headDim]}, with nothing to train: what PEFT
 * passes a model as {@code past_key_values}, for an oracle model that runs no plugin. The model puts them in front of
 * the layer's keys and values and moves real positions up by n, as Hugging Face does with a key/value cache (checked
 * against an independent float64 reference in the runtime's model tests).
 */
final class FixedPrefix extends AbstractBlock implements PrefixModule {
    private final Site site;
    private final double[][][] keys;
    private final double[][][] values;

    FixedPrefix(Site site, double[][][] keys, double[][][] values) {
        super((byte) 1);
        this.site = requireNonNull(site, "site is null");
        this.keys = requireNonNull(keys, "keys is null");
        this.values = requireNonNull(values, "values is null");
    }

    @Override
    public Site site() {
        return site;
    }

    @Override
    public int numVirtualTokens() {
        return keys[0].length;
    }

    @Override
    public PrefixKeyValues keyValues(ParameterStore parameterStore, NDArray like, boolean training) {
        return new PrefixKeyValues(array(like.getManager(), keys), array(like.getManager(), values));
    }

    @Override
    protected NDList forwardInternal(ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        throw new UnsupportedOperationException("the model asks for the key/values; nothing runs this block");
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        Shape shape = new Shape(keys.length, keys[0].length, keys[0][0].length);
        return new Shape[] {shape, shape};
    }

    private static NDArray array(NDManager manager, double[][][] values) {
        int heads = values.length;
        int tokens = values[0].length;
        int width = values[0][0].length;
        float[] flat = new float[heads * tokens * width];
        for (int head = 0; head < heads; head++) {
            for (int token = 0; token < tokens; token++) {
                for (int dim = 0; dim < width; dim++) {
                    flat[(head * tokens + token) * width + dim] = (float) values[head][token][dim];
                }
            }
        }
        return manager.create(flat, new Shape(heads, tokens, width));
    }
}

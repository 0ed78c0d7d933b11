package dev.graft.runtime.peft;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/**
 * The DJL child that holds every adapter module and gate, so their parameters are part of the model's block
 * tree (DJL's trainer finds, checks and updates parameters through it). Never run directly.
 */
final class AdapterBlocks extends AbstractBlock {
    private static final byte VERSION = 1;

    AdapterBlocks() {
        super(VERSION);
    }

    void add(String name, Block block) {
        children.add(name, block);
    }

    void remove(String name) {
        children.remove(name);
    }

    @Override
    protected NDList forwardInternal(ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        throw new UnsupportedOperationException("adapter modules run at their sites, not as a block");
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return inputShapes;
    }
}

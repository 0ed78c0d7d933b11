package dev.graft.runtime.peft;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

import java.util.Map;

/** Holds an adapter's shared parameters (VeRA's projections, a prompt encoder) in the block tree. */
final class SharedParameters extends AbstractBlock {
    private static final byte VERSION = 1;

    SharedParameters(Map<String, Parameter> parameters) {
        super(VERSION);
        parameters.values().forEach(this::addParameter);
    }

    @Override
    protected NDList forwardInternal(ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        throw new UnsupportedOperationException("shared parameters are read by their modules");
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return inputShapes;
    }
}

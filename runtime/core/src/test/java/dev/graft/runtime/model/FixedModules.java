package dev.graft.runtime.model;

import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.graft.spi.PrefixKeyValues;
import dev.graft.spi.PrefixModule;
import dev.graft.spi.PromptModule;
import dev.graft.spi.Site;
import dev.graft.spi.SublayerModule;

/** Hand-written method modules with fixed values, to check what a model does at its attention, embedding and sublayer sites. */
final class FixedModules {
    private FixedModules() {}

    /** Flattens {@code values} {@code [a][b][c]} row-major. */
    static float[] flatten(double[][][] values) {
        int size = values.length * values[0].length * values[0][0].length;
        float[] flat = new float[size];
        int index = 0;
        for (double[][] plane : values) {
            for (double[] row : plane) {
                for (double value : row) {
                    flat[index++] = (float) value;
                }
            }
        }
        return flat;
    }

    /** Values {@code [a][b][c]} drawn from N(0, 0.5) with {@code seed}, each rounded to float32 (what the module holds). */
    static double[][][] random(int a, int b, int c, long seed) {
        java.util.Random random = new java.util.Random(seed);
        double[][][] values = new double[a][b][c];
        for (double[][] plane : values) {
            for (double[] row : plane) {
                for (int index = 0; index < row.length; index++) {
                    row[index] = (float) (0.5 * random.nextGaussian());
                }
            }
        }
        return values;
    }

    private abstract static class Fixed extends AbstractBlock {
        private final Site site;

        Fixed(Site site) {
            super((byte) 1);
            this.site = requireNonNull(site, "site is null");
        }

        public Site site() {
            return site;
        }

        @Override
        protected NDList forwardInternal(ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
            throw new UnsupportedOperationException("driven by the runtime");
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputShapes) {
            return inputShapes;
        }
    }

    /** Virtual tokens {@code [n][hidden]}. */
    static final class Prompt extends Fixed implements PromptModule {
        private final double[][] tokens;

        Prompt(Site site, double[][] tokens) {
            super(site);
            this.tokens = tokens;
        }

        @Override
        public int numVirtualTokens() {
            return tokens.length;
        }

        @Override
        public NDArray virtualTokens(ParameterStore parameterStore, NDArray like, boolean training) {
            return like.getManager().create(flatten(new double[][][] {tokens}), new Shape(tokens.length, tokens[0].length));
        }
    }

    /** Virtual keys and values {@code [heads][n][headDim]}. */
    static final class Prefix extends Fixed implements PrefixModule {
        private final double[][][] keys;
        private final double[][][] values;

        Prefix(Site site, double[][][] keys, double[][][] values) {
            super(site);
            this.keys = keys;
            this.values = values;
        }

        @Override
        public int numVirtualTokens() {
            return keys[0].length;
        }

        @Override
        public PrefixKeyValues keyValues(ParameterStore parameterStore, NDArray like, boolean training) {
            Shape shape = new Shape(keys.length, keys[0].length, keys[0][0].length);
            return new PrefixKeyValues(like.getManager().create(flatten(keys), shape), like.getManager().create(flatten(values), shape));
        }
    }

    /** {@code delta(x_in, h) = a·h + b·x_in} with scaling 1. */
    static final class Sublayer extends Fixed implements SublayerModule {
        private final float outputFactor;
        private final float inputFactor;

        Sublayer(Site site, float outputFactor, float inputFactor) {
            super(site);
            this.outputFactor = outputFactor;
            this.inputFactor = inputFactor;
        }

        @Override
        public NDArray delta(ParameterStore parameterStore, NDArray sublayerInput, NDArray sublayerOutput, boolean training) {
            return sublayerOutput.mul(outputFactor).add(sublayerInput.mul(inputFactor));
        }

        @Override
        public float scaling() {
            return 1f;
        }
    }

    /** {@code delta(x_in, h) = a·h + s·e₀} (a constant {@code s} on the first feature) with scaling 1. */
    static final class ShiftedSublayer extends Fixed implements SublayerModule {
        private final float outputFactor;
        private final float shift;

        ShiftedSublayer(Site site, float outputFactor, float shift) {
            super(site);
            this.outputFactor = outputFactor;
            this.shift = shift;
        }

        @Override
        public NDArray delta(ParameterStore parameterStore, NDArray sublayerInput, NDArray sublayerOutput, boolean training) {
            float[] constant = new float[Math.toIntExact(sublayerOutput.getShape().get(sublayerOutput.getShape().dimension() - 1))];
            constant[0] = shift;
            return sublayerOutput.mul(outputFactor).add(sublayerOutput.getManager().create(constant));
        }

        @Override
        public float scaling() {
            return 1f;
        }
    }
}

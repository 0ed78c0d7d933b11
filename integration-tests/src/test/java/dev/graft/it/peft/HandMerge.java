package dev.graft.it.peft;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import java.util.Map;

/**
 * Folds adapters into Hugging Face-keyed float64 base weights, element by element, straight from PEFT's formulas and
 * the tensors a test wrote into a PEFT checkpoint; it shares no code with the plugins. {@code W} is {@code (out, in)},
 * row-major, as {@code nn.Linear} stores it.
 */
final class HandMerge {
    private final PeftBase base;
    private final Map<String, double[]> weights;

    /** Merges into {@code weights} (changed in place), the weights of {@code base}. */
    HandMerge(PeftBase base, Map<String, double[]> weights) {
        this.base = requireNonNull(base, "base is null");
        this.weights = requireNonNull(weights, "weights is null");
    }

    /** LoRA: {@code W += s·B·A} with {@code A = lora_A.weight (r, in)}, {@code B = lora_B.weight (out, r)}. */
    void lowRank(String module, PlainTensor loraA, PlainTensor loraB, double scaling) {
        double[] weight = weight(module);
        int out = outFeatures(module);
        int in = inFeatures(module);
        int rank = loraA.size() / in;
        for (int row = 0; row < out; row++) {
            for (int column = 0; column < in; column++) {
                double sum = 0;
                for (int inner = 0; inner < rank; inner++) {
                    sum += loraB.at(row, inner) * loraA.at(inner, column);
                }
                weight[row * in + column] += scaling * sum;
            }
        }
    }

    /**
     * VeRA: {@code W += (λ_b ⊙ B_s)(λ_d ⊙ A_s)} with {@code A_s = vera_A[:, :in]}, {@code B_s = vera_B[:out, :]}, each
     * λ scaling the rows of its matrix.
     */
    void vera(String module, PlainTensor sharedA, PlainTensor sharedB, PlainTensor lambdaB, PlainTensor lambdaD) {
        double[] weight = weight(module);
        int out = outFeatures(module);
        int in = inFeatures(module);
        int rank = lambdaD.size();
        for (int row = 0; row < out; row++) {
            for (int column = 0; column < in; column++) {
                double sum = 0;
                for (int inner = 0; inner < rank; inner++) {
                    sum += lambdaB.flat(row) * sharedB.at(row, inner) * lambdaD.flat(inner) * sharedA.at(inner, column);
                }
                weight[row * in + column] += sum;
            }
        }
    }

    /** IA³ on a non-feed-forward module: row {@code o} of {@code W}, and {@code b[o]}, times {@code ia3_l[o]} ({@code (out, 1)}). */
    void scaleOutput(String module, PlainTensor ia3) {
        double[] weight = weight(module);
        double[] bias = weights.get(module + ".bias");
        int in = inFeatures(module);
        for (int row = 0; row < outFeatures(module); row++) {
            for (int column = 0; column < in; column++) {
                weight[row * in + column] *= ia3.at(row, 0);
            }
            if (bias != null) {
                bias[row] *= ia3.at(row, 0);
            }
        }
    }

    /** IA³ on a feed-forward module: column {@code i} of {@code W} times {@code ia3_l[i]} ({@code (1, in)}); the bias stays. */
    void scaleInput(String module, PlainTensor ia3) {
        double[] weight = weight(module);
        int in = inFeatures(module);
        for (int row = 0; row < outFeatures(module); row++) {
            for (int column = 0; column < in; column++) {
                weight[row * in + column] *= ia3.at(0, column);
            }
        }
    }

    /**
     * Bone: {@code bone_blockᵀ} ({@code bone_block} is {@code (r, out)}) added to every {@code r}-column block of
     * {@code W}, a last partial block getting its first columns: {@code W[o, c] += bone_block[c mod r, o]}.
     */
    void boneBlocks(String module, PlainTensor block) {
        double[] weight = weight(module);
        int out = outFeatures(module);
        int in = inFeatures(module);
        int rank = block.size() / out;
        for (int row = 0; row < out; row++) {
            for (int column = 0; column < in; column++) {
                weight[row * in + column] += block.at(column % rank, row);
            }
        }
    }

    /**
     * MiSS's mini: {@code miss_block} {@code (r, mini_r)} repeated {@code out/mini_r} times along the output axis, then
     * added as Bone's block: {@code W[o, c] += miss_block[c mod r, o mod mini_r]}.
     */
    void miniBlocks(String module, PlainTensor block, int rank) {
        double[] weight = weight(module);
        int out = outFeatures(module);
        int in = inFeatures(module);
        int miniRank = block.size() / rank;
        for (int row = 0; row < out; row++) {
            for (int column = 0; column < in; column++) {
                weight[row * in + column] += block.at(column % rank, row % miniRank);
            }
        }
    }

    /**
     * Bat: with {@code W_ij} the {@code r × r} block in output block {@code i} and input block {@code j} and
     * {@code B_i = bone_block[i]} ({@code bone_block} is {@code (out/r, r, r)}), {@code W_ij ← W_ij + W_ij·B_i + B_i}.
     */
    void blockAffine(String module, PlainTensor blocks) {
        double[] weight = weight(module);
        double[] original = weight.clone();
        int in = inFeatures(module);
        int rank = blocks.size() / outFeatures(module);
        for (int row = 0; row < outFeatures(module); row++) {
            int outputBlock = row / rank;
            for (int column = 0; column < in; column++) {
                int inputBlockStart = column / rank * rank;
                double product = 0;
                for (int inner = 0; inner < rank; inner++) {
                    product += original[row * in + inputBlockStart + inner] * blocks.at(outputBlock, inner, column % rank);
                }
                weight[row * in + column] += product + blocks.at(outputBlock, row % rank, column % rank);
            }
        }
    }

    private double[] weight(String module) {
        double[] weight = weights.get(module + ".weight");
        if (weight == null) {
            throw new IllegalArgumentException(format("no linear module %s in %s", module, base.nameOrPath()));
        }
        return weight;
    }

    private int outFeatures(String module) {
        return base.outFeatures(module);
    }

    private int inFeatures(String module) {
        return base.inFeatures(module);
    }
}

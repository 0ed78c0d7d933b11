package dev.graft.plugin.lora;

import dev.graft.spi.MatrixDecompositions;
import dev.graft.spi.MatrixDecompositions.QrDecomposition;
import dev.graft.spi.MatrixDecompositions.SingularValueDecomposition;
import dev.graft.tck.Matrices;

/**
 * The part {@code s·B₀·A₀} of a weight that PiSSA and OLoRA move into the adapter, computed independently of the
 * module from PEFT's formulas, for references in tests.
 */
final class BaseDerivedStarts {
    private BaseDerivedStarts() {}

    /** PiSSA: the best rank-{@code rank} part of {@code weight}, {@code Σ_{i<r} uᵢ·σᵢ·vᵢᵀ}. */
    static float[][] pissaPart(float[][] weight, int rank) {
        SingularValueDecomposition svd = MatrixDecompositions.svd(toDouble(weight));
        double[][] part = new double[weight.length][weight[0].length];
        for (int component = 0; component < rank; component++) {
            for (int row = 0; row < weight.length; row++) {
                for (int column = 0; column < weight[0].length; column++) {
                    part[row][column] += svd.u()[row][component] * svd.singularValues()[component] * svd.vt()[component][column];
                }
            }
        }
        return toFloat(part);
    }

    /** OLoRA: {@code s·Q[:, :r]·R[:r]} of the QR decomposition of {@code weight}. */
    static float[][] oloraPart(float[][] weight, int rank, double scaling) {
        QrDecomposition qr = MatrixDecompositions.qr(toDouble(weight));
        double[][] part = new double[weight.length][weight[0].length];
        for (int component = 0; component < rank; component++) {
            for (int row = 0; row < weight.length; row++) {
                for (int column = 0; column < weight[0].length; column++) {
                    part[row][column] += scaling * qr.q()[row][component] * qr.r()[component][column];
                }
            }
        }
        return toFloat(part);
    }

    /** {@code s·B·A − part}: ΔW of a module with factors {@code B}, {@code A} whose start took {@code part} from the base. */
    static float[][] delta(float[][] up, float[][] down, double scaling, float[][] part) {
        return Matrices.difference(Matrices.scaled(Matrices.product(up, down), scaling), part);
    }

    static double[][] toDouble(float[][] matrix) {
        double[][] result = new double[matrix.length][matrix[0].length];
        for (int row = 0; row < matrix.length; row++) {
            for (int column = 0; column < matrix[0].length; column++) {
                result[row][column] = matrix[row][column];
            }
        }
        return result;
    }

    static float[][] toFloat(double[][] matrix) {
        float[][] result = new float[matrix.length][matrix[0].length];
        for (int row = 0; row < matrix.length; row++) {
            for (int column = 0; column < matrix[0].length; column++) {
                result[row][column] = (float) matrix[row][column];
            }
        }
        return result;
    }
}

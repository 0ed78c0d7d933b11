package dev.graft.spi;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import java.util.Arrays;
import java.util.random.RandomGenerator;

/**
 * Dense matrix decompositions in float64 on the JVM, for methods whose initialisation decomposes a weight (PiSSA's
 * SVD, OLoRA's QR): DJL's API has none. Matrices are {@code double[rows][columns]}; inputs are never modified, and
 * every result is a new array the caller owns. Cost is cubic: fine for a layer of a few thousand features, slow
 * beyond (prefer {@link #randomizedSvd} there, as PEFT prefers {@code pissa_niter_K}).
 */
public final class MatrixDecompositions {
    private static final int MAXIMUM_SWEEPS = 80;
    private static final double ORTHOGONALITY = 1e-15;

    private MatrixDecompositions() {}

    /**
     * The reduced QR decomposition {@code M = Q·R}, {@code Q (m×k)} with orthonormal columns and {@code R (k×n)}
     * upper triangular, {@code k = min(m, n)}. Householder reflections with LAPACK's sign convention
     * ({@code geqrf}, what {@code torch.linalg.qr} calls): {@code R[j][j] = −sign(x₀)·‖x‖} for the column part
     * {@code x} being reduced, and no reflection where {@code x} is already reduced; so {@code Q} and {@code R}
     * equal PyTorch's up to rounding.
     *
     * @throws IllegalArgumentException for an empty or ragged matrix
     */
    public static QrDecomposition qr(double[][] matrix) {
        int rows = rows(matrix);
        int columns = columns(matrix);
        int size = Math.min(rows, columns);
        double[][] work = copy(matrix);
        double[][] reflectors = new double[size][];
        double[] taus = new double[size];
        for (int step = 0; step < size; step++) {
            double alpha = work[step][step];
            double tailNorm = 0;
            for (int row = step + 1; row < rows; row++) {
                tailNorm = Math.hypot(tailNorm, work[row][step]);
            }
            double[] reflector = new double[rows - step];
            reflector[0] = 1;
            if (tailNorm == 0) {
                reflectors[step] = reflector;
                continue;
            }
            double beta = -Math.copySign(Math.hypot(alpha, tailNorm), alpha);
            taus[step] = (beta - alpha) / beta;
            for (int row = step + 1; row < rows; row++) {
                reflector[row - step] = work[row][step] / (alpha - beta);
            }
            reflectors[step] = reflector;
            applyReflector(work, reflector, taus[step], step, step);
            work[step][step] = beta;
            for (int row = step + 1; row < rows; row++) {
                work[row][step] = 0;
            }
        }
        double[][] r = new double[size][columns];
        for (int row = 0; row < size; row++) {
            System.arraycopy(work[row], row, r[row], row, columns - row);
        }
        double[][] q = new double[rows][size];
        for (int index = 0; index < size; index++) {
            q[index][index] = 1;
        }
        for (int step = size - 1; step >= 0; step--) {
            if (taus[step] != 0) {
                applyReflector(q, reflectors[step], taus[step], step, 0);
            }
        }
        return new QrDecomposition(q, r);
    }

    /** {@code M[from:, firstColumn:] = (I − τ·v·vᵀ)·M[from:, firstColumn:]}. */
    private static void applyReflector(double[][] matrix, double[] reflector, double tau, int from, int firstColumn) {
        int columns = matrix[0].length;
        for (int column = firstColumn; column < columns; column++) {
            double dot = 0;
            for (int index = 0; index < reflector.length; index++) {
                dot += reflector[index] * matrix[from + index][column];
            }
            double factor = tau * dot;
            if (factor == 0) {
                continue;
            }
            for (int index = 0; index < reflector.length; index++) {
                matrix[from + index][column] -= factor * reflector[index];
            }
        }
    }

    /**
     * The thin singular value decomposition {@code M = U·diag(S)·Vᵀ}, {@code U (m×k)}, {@code S (k)} sorted from
     * the largest, {@code Vᵀ (k×n)}, {@code k = min(m, n)}; one-sided Jacobi rotations (accurate to about the
     * unit roundoff relative to the largest singular value). Singular vectors are unique up to sign only: a pair
     * {@code (uᵢ, vᵢ)} may come out negated with respect to LAPACK's, which leaves {@code uᵢ·σᵢ·vᵢᵀ} unchanged.
     *
     * @throws IllegalArgumentException for an empty or ragged matrix
     */
    public static SingularValueDecomposition svd(double[][] matrix) {
        int rows = rows(matrix);
        int columns = columns(matrix);
        if (rows < columns) {
            SingularValueDecomposition transposed = svd(transpose(matrix));
            return new SingularValueDecomposition(transpose(transposed.vt()), transposed.singularValues(), transpose(transposed.u()));
        }
        double[][] work = copy(matrix);
        double[][] v = new double[columns][columns];
        for (int index = 0; index < columns; index++) {
            v[index][index] = 1;
        }
        for (int sweep = 0; sweep < MAXIMUM_SWEEPS; sweep++) {
            boolean rotated = false;
            for (int p = 0; p < columns - 1; p++) {
                for (int q = p + 1; q < columns; q++) {
                    double alpha = 0;
                    double beta = 0;
                    double gamma = 0;
                    for (double[] row : work) {
                        alpha += row[p] * row[p];
                        beta += row[q] * row[q];
                        gamma += row[p] * row[q];
                    }
                    if (gamma == 0 || Math.abs(gamma) <= ORTHOGONALITY * Math.sqrt(alpha * beta)) {
                        continue;
                    }
                    rotated = true;
                    double zeta = (beta - alpha) / (2 * gamma);
                    double t = Math.signum(zeta == 0 ? 1 : zeta) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
                    double c = 1 / Math.sqrt(1 + t * t);
                    double s = c * t;
                    rotate(work, p, q, c, s);
                    rotate(v, p, q, c, s);
                }
            }
            if (!rotated) {
                break;
            }
        }
        double[] norms = new double[columns];
        for (int column = 0; column < columns; column++) {
            double norm = 0;
            for (double[] row : work) {
                norm = Math.hypot(norm, row[column]);
            }
            norms[column] = norm;
        }
        Integer[] order = new Integer[columns];
        for (int index = 0; index < columns; index++) {
            order[index] = index;
        }
        Arrays.sort(order, (left, right) -> Double.compare(norms[right], norms[left]));
        double[][] u = new double[rows][columns];
        double[] singular = new double[columns];
        double[][] vt = new double[columns][columns];
        for (int target = 0; target < columns; target++) {
            int column = order[target];
            singular[target] = norms[column];
            for (int row = 0; row < rows; row++) {
                u[row][target] = norms[column] == 0 ? 0 : work[row][column] / norms[column];
            }
            for (int index = 0; index < columns; index++) {
                vt[target][index] = v[index][column];
            }
        }
        return new SingularValueDecomposition(u, singular, vt);
    }

    /**
     * An approximate rank-{@code rank} SVD by PyTorch's randomized range finder ({@code torch.svd_lowrank(M, q=rank,
     * niter=iterations)}, Halko et al. 2009, algorithm 4.4, without oversampling, as PEFT calls it for
     * {@code pissa_niter_K}): a Gaussian test matrix, {@code iterations} rounds of subspace iteration re-orthonormalised by
     * QR, then the exact SVD of the small projected matrix. Like PyTorch, it finds the row space ({@code Mᵀ}'s range)
     * when {@code m < n} or {@code n > rank}. The Gaussian numbers come from {@code random}, not from PyTorch's
     * generator, so the result is PyTorch's only in distribution.
     *
     * @throws IllegalArgumentException for an empty or ragged matrix, a rank outside {@code [1, min(m, n)]} or negative iterations
     */
    public static SingularValueDecomposition randomizedSvd(double[][] matrix, int rank, int iterations, RandomGenerator random) {
        requireNonNull(random, "random is null");
        int rows = rows(matrix);
        int columns = columns(matrix);
        if (rank < 1 || rank > Math.min(rows, columns)) {
            throw new IllegalArgumentException(format("rank must be in [1, %d] for a %d×%d matrix, but is %d", Math.min(rows, columns), rows, columns, rank));
        }
        if (iterations < 0) {
            throw new IllegalArgumentException(format("iterations must be at least 0, but is %d", iterations));
        }
        if (rows < columns || columns > rank) {
            double[][] transposed = transpose(matrix);
            double[][] basis = approximateBasis(transposed, rank, iterations, random);
            SingularValueDecomposition small = svd(multiply(matrix, basis));
            return new SingularValueDecomposition(small.u(), small.singularValues(), transpose(multiply(basis, transpose(small.vt()))));
        }
        double[][] basis = approximateBasis(matrix, rank, iterations, random);
        SingularValueDecomposition small = svd(multiply(transpose(basis), matrix));
        return new SingularValueDecomposition(multiply(basis, small.u()), small.singularValues(), small.vt());
    }

    /** An orthonormal {@code (m×rank)} basis approximating the range of {@code matrix} (PyTorch's {@code get_approximate_basis}). */
    private static double[][] approximateBasis(double[][] matrix, int rank, int iterations, RandomGenerator random) {
        double[][] test = new double[matrix[0].length][rank];
        for (double[] row : test) {
            for (int column = 0; column < rank; column++) {
                row[column] = random.nextGaussian();
            }
        }
        double[][] transposed = transpose(matrix);
        double[][] basis = qr(multiply(matrix, test)).q();
        for (int iteration = 0; iteration < iterations; iteration++) {
            basis = qr(multiply(transposed, basis)).q();
            basis = qr(multiply(matrix, basis)).q();
        }
        return basis;
    }

    private static void rotate(double[][] matrix, int p, int q, double c, double s) {
        for (double[] row : matrix) {
            double left = row[p];
            double right = row[q];
            row[p] = c * left - s * right;
            row[q] = s * left + c * right;
        }
    }

    /** {@code left·right}. */
    public static double[][] multiply(double[][] left, double[][] right) {
        int inner = columns(left);
        if (rows(right) != inner) {
            throw new IllegalArgumentException(format("cannot multiply %d×%d by %d×%d", left.length, inner, right.length, right[0].length));
        }
        int columns = columns(right);
        double[][] product = new double[left.length][columns];
        for (int row = 0; row < left.length; row++) {
            for (int index = 0; index < inner; index++) {
                double value = left[row][index];
                if (value == 0) {
                    continue;
                }
                double[] target = product[row];
                double[] source = right[index];
                for (int column = 0; column < columns; column++) {
                    target[column] += value * source[column];
                }
            }
        }
        return product;
    }

    /** {@code Mᵀ}. */
    public static double[][] transpose(double[][] matrix) {
        int rows = rows(matrix);
        int columns = columns(matrix);
        double[][] transposed = new double[columns][rows];
        for (int row = 0; row < rows; row++) {
            for (int column = 0; column < columns; column++) {
                transposed[column][row] = matrix[row][column];
            }
        }
        return transposed;
    }

    private static double[][] copy(double[][] matrix) {
        double[][] copy = new double[matrix.length][];
        for (int row = 0; row < matrix.length; row++) {
            copy[row] = matrix[row].clone();
        }
        return copy;
    }

    private static int rows(double[][] matrix) {
        requireNonNull(matrix, "matrix is null");
        if (matrix.length == 0) {
            throw new IllegalArgumentException("the matrix has no rows");
        }
        return matrix.length;
    }

    private static int columns(double[][] matrix) {
        int columns = requireNonNull(matrix[0], "row 0 is null").length;
        if (columns == 0) {
            throw new IllegalArgumentException("the matrix has no columns");
        }
        for (int row = 1; row < matrix.length; row++) {
            if (matrix[row].length != columns) {
                throw new IllegalArgumentException(format("the matrix is ragged: row 0 has %d columns, row %d has %d", columns, row, matrix[row].length));
            }
        }
        return columns;
    }

    /**
     * {@code M = Q·R}; see {@link #qr}.
     *
     * @param q {@code (m×k)}, orthonormal columns
     * @param r {@code (k×n)}, upper triangular
     */
    public record QrDecomposition(double[][] q, double[][] r) {
        public QrDecomposition {
            requireNonNull(q, "q is null");
            requireNonNull(r, "r is null");
        }
    }

    /**
     * {@code M ≈ U·diag(S)·Vᵀ}; see {@link #svd} and {@link #randomizedSvd}.
     *
     * @param u {@code (m×k)}, orthonormal columns
     * @param singularValues {@code (k)}, from the largest
     * @param vt {@code (k×n)}, orthonormal rows
     */
    public record SingularValueDecomposition(double[][] u, double[] singularValues, double[][] vt) {
        public SingularValueDecomposition {
            requireNonNull(u, "u is null");
            requireNonNull(singularValues, "singularValues is null");
            requireNonNull(vt, "vt is null");
        }
    }
}

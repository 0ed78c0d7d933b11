package dev.graft.runtime.peft;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.graft.runtime.compose.Attachment;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.plugin.ThreadContextClassLoader;
import dev.graft.runtime.targeting.ModulePatterns;
import dev.graft.runtime.targeting.TargetRules;
import dev.graft.spi.BaseDerivedLinearModule;
import dev.graft.spi.LowRankModule;
import dev.graft.spi.Site;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * PEFT's {@code add_weighted_adapter} for any low-rank method ({@link LowRankModule}): combines adapters into a
 * new adapter of the same method with scaling 1, which is added inactive.
 * <ul>
 *   <li>{@code LINEAR}: equal ranks; {@code A = Σ sign(wᵢsᵢ)·√|wᵢsᵢ|·Aᵢ}, {@code B = Σ √|wᵢsᵢ|·Bᵢ} (not exact).</li>
 *   <li>{@code CAT}: {@code A = [wᵢsᵢAᵢ]} stacked, {@code B = [Bᵢ]} side by side; rank Σrᵢ; exactly {@code Σ wᵢsᵢBᵢAᵢ}.</li>
 *   <li>{@code SVD}: the best rank-k approximation of {@code Σ wᵢsᵢBᵢAᵢ}.</li>
 * </ul>
 */
public final class WeightedCombination {
    /** How to combine. */
    public enum Type {
        LINEAR,
        CAT,
        SVD
    }

    private WeightedCombination() {}

    /**
     * Adds adapter {@code newName} combining {@code adapters} with {@code weights}.
     *
     * @param svdRank the rank of an {@link Type#SVD} combination; ignored otherwise
     * @throws IllegalArgumentException when the adapters use different methods or sites, are not low-rank, or
     *         (linear) have different ranks
     */
    public static Adapter combine(PeftModel model, List<String> adapters, List<Double> weights, Type type, String newName, int svdRank) {
        requireNonNull(type, "type is null");
        if (adapters.isEmpty() || adapters.size() != weights.size()) {
            throw new IllegalArgumentException(format("give one weight per adapter: %d adapters, %d weights", adapters.size(), weights.size()));
        }
        List<Adapter> sources = new ArrayList<>();
        for (String name : adapters) {
            sources.add(model.adapter(name));
        }
        Adapter first = sources.get(0);
        for (Adapter source : sources) {
            if (!source.descriptor().id().equals(first.descriptor().id()) || !source.sites().equals(first.sites())) {
                throw new IllegalArgumentException(format("adapters %s and %s cannot be combined: they must use the same method on the same sites",
                        first.name(), source.name()));
            }
        }
        Map<Site, double[][][]> factors = new LinkedHashMap<>();
        Map<String, Integer> ranks = new LinkedHashMap<>();
        for (Site site : first.sites()) {
            List<LowRankModule> modules = new ArrayList<>();
            for (Adapter source : sources) {
                Attachment attachment = source.attachments().get(site);
                if (!(attachment.module() instanceof LowRankModule)) {
                    throw new IllegalArgumentException(format("adapter '%s' (method %s) is not low-rank at %s, so it cannot be combined",
                            source.name(), source.descriptor().id(), site.name()));
                }
                if (attachment.module() instanceof BaseDerivedLinearModule && ((BaseDerivedLinearModule) attachment.module()).derivesFromBase()) {
                    throw new IllegalArgumentException(format("adapter '%s' (method %s) started from the base weight at %s (init_lora_weights pissa or olora): "
                            + "its update is s·(B·A − B₀·A₀), not s·B·A, so it cannot be combined as it is; save it converted to a plain LoRA "
                            + "(graft train writes adapter-lora/), load that and combine it", source.name(), source.descriptor().id(), site.name()));
                }
                modules.add((LowRankModule) attachment.module());
            }
            double[][][] combined = combineSite(site, sources, modules, weights, type, svdRank);
            factors.put(site, combined);
            ranks.put(site.name(), combined[1].length);
        }
        Optional<Map<String, Object>> optionsForRanks;
        try (ThreadContextClassLoader ignored = ThreadContextClassLoader.enter(first.method())) {
            optionsForRanks = first.instance().optionsForRanks(ranks);
        }
        Map<String, Object> options = optionsForRanks.orElseThrow(() -> new IllegalArgumentException(format(
                "method '%s' cannot express a combined adapter with ranks %s", first.descriptor().id(), ranks.values())));
        List<String> siteNames = new ArrayList<>(ranks.keySet());
        Adapter result = model.addAdapter(new AdapterSpec(newName, options, TargetRules.targeting(ModulePatterns.names(siteNames)), Composition.SUM), first.method());
        try (NDManager scratch = NDManager.newBaseManager()) {
            for (Map.Entry<Site, double[][][]> entry : factors.entrySet()) {
                LowRankModule module = (LowRankModule) result.attachments().get(entry.getKey()).module();
                module.setFactors(array(scratch, entry.getValue()[1]), array(scratch, entry.getValue()[0]));
            }
        }
        model.setActive(newName, false);
        return result;
    }

    private static double[][][] combineSite(Site site, List<Adapter> sources, List<LowRankModule> modules, List<Double> weights, Type type, int svdRank) {
        int count = modules.size();
        List<double[][]> as = new ArrayList<>();
        List<double[][]> bs = new ArrayList<>();
        for (LowRankModule module : modules) {
            as.add(matrix(module.factorA()));
            bs.add(matrix(module.factorB()));
        }
        int out = bs.get(0).length;
        int in = as.get(0)[0].length;
        if (type == Type.LINEAR) {
            int rank = as.get(0).length;
            for (int index = 0; index < count; index++) {
                if (as.get(index).length != rank) {
                    throw new IllegalArgumentException(format("linear combination needs equal ranks, but at %s adapter '%s' has rank %d and '%s' rank %d; use cat or svd",
                            site.name(), sources.get(0).name(), rank, sources.get(index).name(), as.get(index).length));
                }
            }
            double[][] a = new double[rank][in];
            double[][] b = new double[out][rank];
            for (int index = 0; index < count; index++) {
                double product = weights.get(index) * modules.get(index).scaling();
                double root = Math.sqrt(Math.abs(product));
                accumulate(a, as.get(index), Math.signum(product) * root);
                accumulate(b, bs.get(index), root);
            }
            return new double[][][] {b, a};
        }
        int total = 0;
        for (double[][] a : as) {
            total += a.length;
        }
        double[][] a = new double[total][];
        double[][] b = new double[out][total];
        int offset = 0;
        for (int index = 0; index < count; index++) {
            double factor = weights.get(index) * modules.get(index).scaling();
            for (int row = 0; row < as.get(index).length; row++) {
                a[offset + row] = new double[in];
                for (int column = 0; column < in; column++) {
                    a[offset + row][column] = factor * as.get(index)[row][column];
                }
                for (int output = 0; output < out; output++) {
                    b[output][offset + row] = bs.get(index)[output][row];
                }
            }
            offset += as.get(index).length;
        }
        if (type == Type.CAT) {
            return new double[][][] {b, a};
        }
        if (svdRank <= 0) {
            throw new IllegalArgumentException(format("an svd combination needs a rank greater than 0, got %d", svdRank));
        }
        return LowRankAlgebra.truncatedSvd(b, a, svdRank);
    }

    private static void accumulate(double[][] target, double[][] source, double factor) {
        for (int row = 0; row < target.length; row++) {
            for (int column = 0; column < target[row].length; column++) {
                target[row][column] += factor * source[row][column];
            }
        }
    }

    private static double[][] matrix(NDArray array) {
        float[] values;
        try (NDArray copy = array.toType(DataType.FLOAT32, true)) {
            values = copy.toFloatArray();
        }
        int rows = (int) array.getShape().get(0);
        int columns = (int) array.getShape().get(1);
        double[][] matrix = new double[rows][columns];
        for (int row = 0; row < rows; row++) {
            for (int column = 0; column < columns; column++) {
                matrix[row][column] = values[row * columns + column];
            }
        }
        return matrix;
    }

    private static NDArray array(NDManager manager, double[][] matrix) {
        int rows = matrix.length;
        int columns = rows == 0 ? 0 : matrix[0].length;
        float[] values = new float[rows * columns];
        for (int row = 0; row < rows; row++) {
            for (int column = 0; column < columns; column++) {
                values[row * columns + column] = (float) matrix[row][column];
            }
        }
        return manager.create(values, new Shape(rows, columns));
    }
}

package dev.graft.runtime.compose;

import static java.util.Objects.requireNonNull;

/**
 * The value of one gate in the last forward pass.
 *
 * @param adapter the adapter name
 * @param method the method id
 * @param site the site name
 * @param layerIndex the site's layer, or -1
 * @param values one value per example of the last batch
 */
public record GateReading(String adapter, String method, String site, int layerIndex, float[] values) {
    public GateReading {
        requireNonNull(adapter, "adapter is null");
        requireNonNull(method, "method is null");
        requireNonNull(site, "site is null");
        values = values.clone();
    }

    /** The mean over the batch. */
    public double mean() {
        double sum = 0;
        for (float value : values) {
            sum += value;
        }
        return values.length == 0 ? Double.NaN : sum / values.length;
    }
}

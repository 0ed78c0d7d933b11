package dev.graft.runtime.model;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

/**
 * How a Llama model scales its rotary frequencies: Hugging Face's {@code rope_scaling} for the types Graft
 * implements, {@code linear} (every frequency divided by {@code factor}) and {@code llama3} (low frequencies
 * divided by {@code factor}, high ones kept, a smooth blend between).
 *
 * @param type none, linear or llama3
 * @param factor {@code factor} (1 for none)
 * @param lowFrequencyFactor {@code low_freq_factor} (llama3 only)
 * @param highFrequencyFactor {@code high_freq_factor} (llama3 only)
 * @param originalMaxPositionEmbeddings {@code original_max_position_embeddings} (llama3 only)
 */
public record RopeScaling(Type type, double factor, double lowFrequencyFactor, double highFrequencyFactor, int originalMaxPositionEmbeddings) {
    /** The {@code rope_type} values Graft implements. */
    public enum Type {
        NONE,
        LINEAR,
        LLAMA3
    }

    public RopeScaling {
        requireNonNull(type, "type is null");
        if (!(factor > 0)) {
            throw new IllegalArgumentException(format("rope_scaling factor must be positive, found %s", factor));
        }
        if (type == Type.LLAMA3 && (!(lowFrequencyFactor > 0) || !(highFrequencyFactor > lowFrequencyFactor) || originalMaxPositionEmbeddings <= 0)) {
            throw new IllegalArgumentException(format(
                    "llama3 rope_scaling needs 0 < low_freq_factor < high_freq_factor and original_max_position_embeddings > 0, found %s, %s and %d",
                    lowFrequencyFactor, highFrequencyFactor, originalMaxPositionEmbeddings));
        }
    }

    public static RopeScaling none() {
        return new RopeScaling(Type.NONE, 1, 0, 0, 0);
    }

    public static RopeScaling linear(double factor) {
        return new RopeScaling(Type.LINEAR, factor, 0, 0, 0);
    }

    public static RopeScaling llama3(double factor, double lowFrequencyFactor, double highFrequencyFactor, int originalMaxPositionEmbeddings) {
        return new RopeScaling(Type.LLAMA3, factor, lowFrequencyFactor, highFrequencyFactor, originalMaxPositionEmbeddings);
    }

    /**
     * The inverse frequencies {@code θ^(−2i/d)}, {@code i < d/2}, scaled as Hugging Face's
     * {@code ROPE_INIT_FUNCTIONS[rope_type]} computes them.
     */
    float[] inverseFrequencies(int headDim, double theta) {
        float[] frequencies = new float[headDim / 2];
        for (int index = 0; index < frequencies.length; index++) {
            float base = (float) (1.0 / Math.pow(theta, (2.0 * index) / headDim));
            frequencies[index] = switch (type) {
                case NONE -> base;
                case LINEAR -> (float) (base / factor);
                case LLAMA3 -> (float) llama3(base);
            };
        }
        return frequencies;
    }

    private double llama3(double frequency) {
        double lowFrequencyWavelength = originalMaxPositionEmbeddings / lowFrequencyFactor;
        double highFrequencyWavelength = originalMaxPositionEmbeddings / highFrequencyFactor;
        double wavelength = 2 * Math.PI / frequency;
        if (wavelength < highFrequencyWavelength) {
            return frequency;
        }
        if (wavelength > lowFrequencyWavelength) {
            return frequency / factor;
        }
        double smooth = (originalMaxPositionEmbeddings / wavelength - lowFrequencyFactor) / (highFrequencyFactor - lowFrequencyFactor);
        return (1 - smooth) * frequency / factor + smooth * frequency;
    }
}

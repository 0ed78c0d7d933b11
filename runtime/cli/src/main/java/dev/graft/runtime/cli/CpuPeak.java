package dev.graft.runtime.cli;

import static java.lang.String.format;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The machine's theoretical fp32 peak, {@code cores × FMA width × 2 × clock}, from {@code /proc/cpuinfo}: the FMA
 * width is the fp32 lanes of the widest vector FMA the flags list (16 with avx512f, 8 with avx2 and fma, 4 with
 * sse), 2 counts the multiply and the add of one FMA, and the clock is the nominal one of the model name (the
 * current {@code cpu MHz} where the name has none). One FMA issue per core and cycle is assumed: cores with two FMA
 * units peak at twice this figure.
 *
 * @param cpuModel the {@code model name} line
 * @param cores the processors the JVM may use
 * @param lanes fp32 lanes per FMA
 * @param gigahertz the clock used
 * @param clockSource where the clock came from
 * @param vectorUnit the instruction set the lanes come from
 */
record CpuPeak(String cpuModel, int cores, int lanes, double gigahertz, String clockSource, String vectorUnit) {
    private static final Path CPUINFO = Path.of("/proc/cpuinfo");
    private static final Pattern NOMINAL = Pattern.compile("@\\s*([0-9.]+)\\s*GHz");

    /** Reads this machine's figures, or empty where {@code /proc/cpuinfo} is not readable (not Linux). */
    static Optional<CpuPeak> read() {
        List<String> lines;
        try {
            lines = Files.readAllLines(CPUINFO);
        }
        catch (IOException | SecurityException e) {
            return Optional.empty();
        }
        String model = field(lines, "model name").orElse("unknown CPU");
        String flags = " " + field(lines, "flags").orElse("") + " ";
        int lanes;
        String unit;
        if (flags.contains(" avx512f ")) {
            lanes = 16;
            unit = "avx512f";
        }
        else if (flags.contains(" avx2 ") && flags.contains(" fma ")) {
            lanes = 8;
            unit = "avx2+fma";
        }
        else if (flags.contains(" asimd ")) {
            lanes = 4;
            unit = "asimd";
        }
        else {
            lanes = 4;
            unit = "sse (no fma flag)";
        }
        Matcher nominal = NOMINAL.matcher(model);
        double gigahertz;
        String source;
        if (nominal.find()) {
            gigahertz = Double.parseDouble(nominal.group(1));
            source = "nominal clock of the model name";
        }
        else {
            gigahertz = field(lines, "cpu MHz").map(value -> Double.parseDouble(value) / 1000).orElse(0d);
            source = "current 'cpu MHz' of /proc/cpuinfo";
        }
        return Optional.of(new CpuPeak(model, Runtime.getRuntime().availableProcessors(), lanes, gigahertz, source, unit));
    }

    /** The peak in GFLOP/s. */
    double gigaflops() {
        return cores * lanes * 2 * gigahertz;
    }

    /** How the peak was computed, in one line. */
    String explanation() {
        return format(Locale.ROOT, "fp32 peak = %d cores x %d lanes (%s) x 2 (FMA = multiply + add) x %.2f GHz (%s) = %.1f GFLOP/s; one FMA unit per core assumed",
                cores, lanes, vectorUnit, gigahertz, clockSource, gigaflops());
    }

    private static Optional<String> field(List<String> lines, String name) {
        for (String line : lines) {
            int colon = line.indexOf(':');
            if (colon > 0 && line.substring(0, colon).trim().equals(name)) {
                return Optional.of(line.substring(colon + 1).trim());
            }
        }
        return Optional.empty();
    }
}

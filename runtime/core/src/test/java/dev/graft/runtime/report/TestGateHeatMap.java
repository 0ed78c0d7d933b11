package dev.graft.runtime.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import javax.imageio.ImageIO;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The mean gate per layer and adapter: its text table, its heat map PNG and its section of report.md. */
final class TestGateHeatMap {
    @TempDir
    Path folder;

    private static GateMeans means() {
        Map<Integer, Map<String, Double>> means = new LinkedHashMap<>();
        means.put(1, new LinkedHashMap<>(Map.of("lowrank", 0.25)));
        means.get(1).put("bottleneck", 0.75);
        means.put(0, new LinkedHashMap<>(Map.of("lowrank", 0.5)));
        return new GateMeans(means);
    }

    @Test
    void testTheTableHasLayerRowsAndAdapterColumns() {
        GateMeans means = means();
        assertThat(means.layers()).containsExactly(0, 1);
        assertThat(means.adapters()).containsExactly("lowrank", "bottleneck");
        assertThat(means.mean(0, "bottleneck")).isEmpty();
        assertThat(means.table()).containsExactly(
                "LAYER  lowrank  bottleneck",
                "    0   0.5000           -",
                "    1   0.2500      0.7500");
        assertThat(GateMeans.empty().table()).isEmpty();
    }

    @Test
    void testTheHeatMapIsAValidPng() throws IOException {
        Path png = folder.resolve("gates.png");
        GateHeatMap.write(png, means(), "mean gate per layer and adapter");
        BufferedImage image = ImageIO.read(png.toFile());
        assertThat(image).as("a PNG ImageIO reads").isNotNull();
        assertThat(image.getWidth()).isGreaterThanOrEqualTo(480);
        assertThat(image.getHeight()).isGreaterThanOrEqualTo(320);
        assertThat(Files.readAllBytes(png)).startsWith(0x89, 'P', 'N', 'G');
        assertThatThrownBy(() -> GateHeatMap.write(folder.resolve("none.png"), GateMeans.empty(), "none")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("no gate values");
    }

    @Test
    void testTheReportHasAGatesSectionOnlyWhenGated() {
        ReportContent gated = new ReportContent("run", "", List.of(), List.of("RUN  loss"), "training.png", Map.of(), means().table(), "gates.png");
        assertThat(Report.markdown(gated)).contains("\n## Gates\n").contains("LAYER  lowrank  bottleneck\n    0   0.5000           -\n").contains("![gates](gates.png)");
        ReportContent plain = new ReportContent("run", "", List.of(), List.of("RUN  loss"), "training.png", Map.of());
        assertThat(Report.markdown(plain)).doesNotContain("## Gates");
    }
}

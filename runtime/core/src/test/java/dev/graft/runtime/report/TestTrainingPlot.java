package dev.graft.runtime.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import javax.imageio.ImageIO;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

final class TestTrainingPlot {
    private static final byte[] PNG_SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

    @TempDir
    Path folder;

    @Test
    void testLossAndValidationMetricsGiveTwoPanels() throws IOException {
        Path png = folder.resolve("training.png");

        TrainingPlot.write(png, records(false), "lora on sst2");

        assertThat(Files.readAllBytes(png)).startsWith(PNG_SIGNATURE);
        BufferedImage image = ImageIO.read(png.toFile());
        assertThat(image.getWidth()).isEqualTo(900);
        assertThat(image.getHeight()).isEqualTo(600);
        assertThat(fileNames(folder)).containsExactly("training.png");
    }

    @Test
    void testGatesAddAThirdPanel() throws IOException {
        Path png = folder.resolve("training.png");

        TrainingPlot.write(png, records(true), "gated lora + adapter + prefix");

        BufferedImage image = ImageIO.read(png.toFile());
        assertThat(image.getWidth()).isEqualTo(900);
        assertThat(image.getHeight()).isEqualTo(900);
    }

    @Test
    void testTrainingLossAloneGivesOnePanelAndNanIsSkipped() throws IOException {
        Path png = folder.resolve("training.png");
        List<MetricsRecord> records = List.of(
                new MetricsRecord(1, 0.1, "train", Map.of("loss", 0.9)),
                new MetricsRecord(2, 0.2, "train", Map.of("loss", Double.NaN)),
                new MetricsRecord(3, 0.3, "train", Map.of("loss", 0.7)));

        TrainingPlot.write(png, records, "prompt tuning");

        assertThat(ImageIO.read(png.toFile()).getHeight()).isEqualTo(300);
    }

    @Test
    void testNothingToPlotIsRejected() {
        Path png = folder.resolve("training.png");

        assertThatThrownBy(() -> TrainingPlot.write(png, List.of(new MetricsRecord(1, 0.1, "test", Map.of("accuracy", 0.9))), "run"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("Nothing to plot in " + png + ": the 1 metrics records hold no loss, no validation metric and no gate value");
        assertThat(png).doesNotExist();
    }

    @Test
    void testMissingFontsGiveOneMessageThatNamesTheFix() {
        assertThatThrownBy(() -> TrainingPlot.requireFonts(() -> {
            throw new Error("Probable fatal error: No physical fonts found.");
        }))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("Cannot draw the text of the training plot: the JDK finds no usable font (Error: Probable fatal error: No physical fonts found.); "
                        + "install fontconfig and a font (Debian/Ubuntu: apt-get install fontconfig fonts-dejavu-core), then run again");
    }

    private static List<MetricsRecord> records(boolean gated) {
        List<MetricsRecord> records = new ArrayList<>();
        for (long step = 5; step <= 200; step += 5) {
            double loss = 0.7 * Math.exp(-step / 60.0) + 0.05 + 0.03 * Math.sin(step);
            Map<String, Double> gates = new LinkedHashMap<>();
            if (gated) {
                gates.put("lowrank", 0.5 + 0.3 * step / 200.0);
                gates.put("bottleneck", 0.5 - 0.2 * step / 200.0);
                gates.put("prefix", 0.5 + 0.05 * Math.sin(step / 20.0));
            }
            records.add(new MetricsRecord(step, step / 100.0, "train", Map.of("loss", loss), gates));
            if (step % 25 == 0) {
                Map<String, Double> validation = new LinkedHashMap<>();
                validation.put("loss", 0.7 * Math.exp(-step / 70.0) + 0.08);
                validation.put("accuracy", 0.5 + 0.45 * (1 - Math.exp(-step / 50.0)));
                validation.put("macro_f1", 0.45 + 0.48 * (1 - Math.exp(-step / 50.0)));
                validation.put("perplexity", Math.exp(validation.get("loss")) * 10);
                records.add(new MetricsRecord(step, step / 100.0, "validation", validation, Map.of()));
            }
        }
        return records;
    }

    private static List<String> fileNames(Path folder) throws IOException {
        try (Stream<Path> files = Files.list(folder)) {
            return files.map(path -> path.getFileName().toString()).toList();
        }
    }
}

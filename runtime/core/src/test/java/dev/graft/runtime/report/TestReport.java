package dev.graft.runtime.report;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

final class TestReport {
    @TempDir
    Path folder;

    @Test
    void testMarkdownOfAFullReport() throws IOException {
        Map<String, String> files = new LinkedHashMap<>();
        files.put("adapter/adapter_model.safetensors", "the trained adapter weights");
        files.put("metrics.jsonl", "every logged step");
        files.put("training.png", "the training plot");
        ReportContent content = new ReportContent(
                "gated lora + adapter + prefix on sst2",
                "Trained 3 adapters for 200 steps (2 epochs) on 1,600 examples in 4 min 12 s.",
                List.of("ADAPTER  METHOD  COMPOSITION  SITES  PARAMETERS", "lowrank  lora    gated           12      73,728", "", "trainable params: 73,728 || all params: 22,786,176 || trainable%: 0.3236"),
                List.of("RUN   accuracy    loss", "lora    0.9712  0.1000"),
                "training.png",
                files);
        Path file = folder.resolve("report.md");

        Report.write(file, content);

        assertThat(Files.readString(file, UTF_8)).isEqualTo("""
                # gated lora + adapter + prefix on sst2

                Trained 3 adapters for 200 steps (2 epochs) on 1,600 examples in 4 min 12 s.

                ## Parameters

                ```
                ADAPTER  METHOD  COMPOSITION  SITES  PARAMETERS
                lowrank  lora    gated           12      73,728

                trainable params: 73,728 || all params: 22,786,176 || trainable%: 0.3236
                ```

                ## Results

                ```
                RUN   accuracy    loss
                lora    0.9712  0.1000
                ```

                ![training](training.png)

                ## Files

                - [adapter/adapter_model.safetensors](adapter/adapter_model.safetensors): the trained adapter weights
                - [metrics.jsonl](metrics.jsonl): every logged step
                - [training.png](training.png): the training plot
                """);
        assertThat(fileNames(folder)).containsExactly("report.md");
    }

    @Test
    void testNoPlotNoFilesAndAPathWithASpace() {
        ReportContent content = new ReportContent("lora", "One run.", List.of(), List.of("RUN   loss", "lora  0.1000"), null, Map.of("my run/report.md", "this report"));

        assertThat(Report.markdown(content)).isEqualTo("""
                # lora

                One run.

                ## Results

                ```
                RUN   loss
                lora  0.1000
                ```

                ## Files

                - [my run/report.md](<my run/report.md>): this report
                """);
    }

    private static List<String> fileNames(Path folder) throws IOException {
        try (Stream<Path> files = Files.list(folder)) {
            return files.map(path -> path.getFileName().toString()).toList();
        }
    }
}

package dev.graft.integration;

import static java.lang.String.format;
import static org.assertj.core.api.Assertions.assertThat;

import dev.graft.runtime.plugin.LoadedMethod;
import dev.graft.runtime.plugin.MethodRegistry;
import dev.graft.runtime.plugin.MethodRegistryLoader;
import dev.graft.runtime.plugin.PluginProblem;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The distribution built by runtime/distribution: its layout, its core plugins, and its launcher run as a process. */
final class TestDistribution {
    @TempDir
    static Path scratch;

    private static Path distribution;
    private static TestPlugins testPlugins;

    @BeforeAll
    static void findDistribution() throws IOException {
        distribution = Path.of(System.getProperty("graft.distribution", "../runtime/distribution/target/graft")).toAbsolutePath().normalize();
        assertThat(distribution.resolve("lib"))
                .withFailMessage("no distribution at %s; build it first: mvn -B -o package -pl integration-tests -am", distribution)
                .isDirectory();
        testPlugins = TestPlugins.build(scratch);
    }

    @Test
    void testLibHoldsTheRuntimeDjlAndThePytorchNatives() throws IOException {
        assertThat(fileNames(distribution.resolve("lib")))
                .anyMatch(name -> name.startsWith("graft-runtime-"))
                .anyMatch(name -> name.startsWith("graft-spi-"))
                .anyMatch(name -> name.startsWith("api-0.36.0"))
                .anyMatch(name -> name.startsWith("pytorch-engine-"))
                .anyMatch(name -> name.startsWith("pytorch-native-cpu-") && name.endsWith("-linux-x86_64.jar"))
                .anyMatch(name -> name.startsWith("pytorch-jni-"))
                .noneMatch(name -> name.startsWith("graft-plugin-"))
                .noneMatch(name -> name.startsWith("graft-tck-"));
    }

    @Test
    void testLibStartsPytorchOffline() throws Exception {
        Path check = Files.writeString(scratch.resolve("PytorchSum.java"), TestPlugins.PYTORCH_SUM);
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");

        Result result = run(List.of(java.toString(), "-Dai.djl.offline=true", "-cp", distribution.resolve("lib") + "/*", check.toString()));

        assertThat(result.exitCode()).as("exit code; stderr: %s", result.err()).isZero();
        assertThat(result.out()).isEqualTo(TestPlugins.PYTORCH_SUM_RESULT + System.lineSeparator());
    }

    @Test
    void testNoMethodIsLoadedFromLib() throws IOException {
        for (Path jar : files(distribution.resolve("lib"))) {
            assertThat(PluginJarBuilder.entries(jar)).as("entries of %s", jar).doesNotContain(TestPlugins.SERVICE_FILE);
        }
    }

    @Test
    void testEveryCorePluginFolderLoadsTheMethodNamedLikeIt() throws IOException {
        Path plugins = distribution.resolve("plugins");
        List<Path> folders = files(plugins);
        assertThat(folders).extracting(folder -> folder.getFileName().toString()).contains("lora");

        MethodRegistry registry = MethodRegistryLoader.load(TestPlugins.NO_CLASS_PATH_METHODS, List.of(plugins));

        for (Path folder : folders) {
            assertThat(folder).isDirectory();
            String id = folder.getFileName().toString();
            if (declaresProvider(folder)) {
                assertThat(registry.method(id)).as("method loaded from %s", folder)
                        .map(LoadedMethod::source).contains(folder.toString());
            }
            else {
                // a plugin module without sources yet: it must be reported, not silently ignored
                assertThat(registry.problems()).as("problems").extracting(PluginProblem::message).contains(format(
                        "Skipped plugin %s: it declares no PeftMethod (no %s in its jars). Annotate the method class with @AutoService(PeftMethod.class) and rebuild the plugin, or remove it.",
                        folder, TestPlugins.SERVICE_FILE));
            }
        }
    }

    @Test
    void testLauncherPrintsTheTableThenTheProblems() throws Exception {
        Result result = launch("methods", "--plugins", testPlugins.plugins().toString(), "--plugins", testPlugins.morePlugins().toString());
        MethodRegistry expected = MethodRegistryLoader.load(
                TestPlugins.NO_CLASS_PATH_METHODS, List.of(distribution.resolve("plugins"), testPlugins.plugins(), testPlugins.morePlugins()));

        assertThat(result.exitCode()).as("exit code; stderr: %s", result.err()).isZero();
        assertThat(result.err()).isEmpty();
        List<String> lines = result.out().lines().collect(Collectors.toList());
        int blank = lines.indexOf("");
        List<List<String>> table = lines.subList(0, blank).stream().map(line -> Arrays.asList(line.split(" {2,}"))).collect(Collectors.toList());
        assertThat(table.get(0)).containsExactly("ID", "VERSION", "SPI", "SITE KINDS", "MERGEABLE", "LOADED FROM");
        assertThat(table.subList(1, table.size())).extracting(row -> row.get(0)).isSorted().containsExactlyInAnyOrderElementsOf(expected.ids());
        assertThat(table).contains(
                List.of("extra", "2.1.0", "2.2", "linear,sublayer", "yes", testPlugins.plugins().resolve("extra.jar").toString()),
                List.of("folder-method", "2.1.0", "2.2", "linear,sublayer", "yes", testPlugins.plugins().resolve("folder-method").toString()),
                List.of("late", "2.1.0", "2.2", "linear,sublayer", "yes", testPlugins.morePlugins().resolve("late.jar").toString()),
                List.of("probe", "2.1.0", "2.2", "linear,sublayer", "yes", testPlugins.plugins().resolve("probe.jar").toString()));
        List<String> problems = new ArrayList<>();
        problems.add(format("%d problems:", expected.problems().size()));
        expected.problems().forEach(problem -> problems.add("  " + problem.message()));
        assertThat(lines.subList(blank + 1, lines.size())).containsExactlyElementsOf(problems);
        assertThat(problems).anyMatch(line -> line.startsWith("  Skipped plugin " + testPlugins.plugins().resolve("throws.jar") + ": creating"));
    }

    @Test
    void testLauncherRejectsAMissingPluginDirectoryInOneLine() throws Exception {
        Path missing = scratch.resolve("no-such-folder");

        Result result = launch("methods", "--plugins", missing.toString());

        assertThat(result.exitCode()).isEqualTo(2);
        assertThat(result.out()).isEmpty();
        assertThat(result.err()).hasLineCount(1).startsWith("graft methods: Invalid value for option '--plugins' (DIR): plugin directory '" + missing + "' does not exist");
    }

    @Test
    void testTooSmallAHeapIsOneLineWithAHint() throws Exception {
        Result result = launch(Map.of("GRAFT_OPTS", "-Xmx8m"), "forward", "--model", "minilm", "--text", "hello", "--output", scratch.resolve("never.safetensors").toString());

        assertThat(result.exitCode()).isEqualTo(1);
        assertThat(result.err()).isEqualTo("graft: out of memory (Java heap space). Give Java more: GRAFT_OPTS=-Xmx8g graft ..., or use a smaller batch_size or max_length"
                + System.lineSeparator());
        assertThat(scratch.resolve("never.safetensors")).doesNotExist();
    }

    @Test
    void testLauncherIsAnExecutablePosixScript() throws IOException {
        Path launcher = distribution.resolve("bin").resolve("graft");

        assertThat(Files.isExecutable(launcher)).isTrue();
        assertThat(Files.readAllLines(launcher, StandardCharsets.UTF_8).get(0)).isEqualTo("#!/bin/sh");
    }

    private static Result launch(String... args) throws Exception {
        return launch(Map.of(), args);
    }

    private static Result launch(Map<String, String> environment, String... args) throws Exception {
        List<String> command = new ArrayList<>();
        command.add(distribution.resolve("bin").resolve("graft").toString());
        command.addAll(List.of(args));
        return run(command, environment);
    }

    private static Result run(List<String> command) throws Exception {
        return run(command, Map.of());
    }

    private static Result run(List<String> command, Map<String, String> environment) throws Exception {
        ProcessBuilder builder = new ProcessBuilder(command)
                .redirectOutput(scratch.resolve("launcher.out").toFile())
                .redirectError(scratch.resolve("launcher.err").toFile());
        builder.environment().put("JAVA_HOME", System.getProperty("java.home"));
        // the build's shared cache (set by surefire) keeps the PyTorch natives from being unpacked once per test
        builder.environment().put("DJL_CACHE_DIR", Optional.ofNullable(System.getenv("DJL_CACHE_DIR")).orElse(scratch.resolve("djl-cache").toString()));
        builder.environment().remove("GRAFT_OPTS");
        builder.environment().putAll(environment);
        Process process = builder.start();
        process.getOutputStream().close();
        if (!process.waitFor(120, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("the process did not finish in 120 seconds: " + command);
        }
        return new Result(
                process.exitValue(),
                Files.readString(scratch.resolve("launcher.out"), StandardCharsets.UTF_8),
                Files.readString(scratch.resolve("launcher.err"), StandardCharsets.UTF_8));
    }

    private static boolean declaresProvider(Path folder) throws IOException {
        for (Path jar : files(folder)) {
            if (PluginJarBuilder.entries(jar).contains(TestPlugins.SERVICE_FILE)) {
                return true;
            }
        }
        return false;
    }

    private static List<Path> files(Path directory) throws IOException {
        try (Stream<Path> entries = Files.list(directory)) {
            return entries.sorted().collect(Collectors.toList());
        }
    }

    private static List<String> fileNames(Path directory) throws IOException {
        return files(directory).stream().map(path -> path.getFileName().toString()).collect(Collectors.toList());
    }

    private record Result(int exitCode, String out, String err) {}
}

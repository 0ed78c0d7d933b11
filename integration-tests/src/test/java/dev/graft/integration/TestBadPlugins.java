package dev.graft.integration;

import static dev.graft.integration.GraftCli.graft;
import static java.lang.String.format;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.nn.Block;
import dev.graft.integration.GraftCli.Result;
import dev.graft.runtime.cli.GraftMain;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.plugin.LoadedMethod;
import dev.graft.runtime.plugin.MethodRegistry;
import dev.graft.runtime.plugin.MethodRegistryLoader;
import dev.graft.runtime.plugin.PluginConfiguration;
import dev.graft.runtime.plugin.PluginProblem;
import dev.graft.runtime.plugin.TrustedPlugins;
import dev.graft.spi.PeftMethod;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Random;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.JarOutputStream;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A folder of deliberately bad plugins, built by the test, next to good ones: each bad one gives exactly one problem
 * line that names its jar and the cause, the good ones (and the good half of a half-broken jar) still load,
 * {@code graft methods} lists them and exits 0, {@code --strict} makes the problems fatal, and
 * {@code --trusted-plugins} refuses every jar not on the list with the sum it found. Plugins that fail only when used
 * ({@code create}, the forward pass) are named, with the frame that threw, by {@code graft train}.
 */
final class TestBadPlugins {
    private static final String PACKAGE = "com.example.bad";

    /** One bad plugin: its jar's name and a fragment its one problem line must hold. */
    private record Case(String jar, String fragment) {}

    private static final List<Case> CASES = List.of(
            new Case("a-not-a-jar.jar", "the file is not a valid jar file (java.util.zip.ZipException: zip END header not found)"),
            new Case("b-zero-bytes.jar", "the file is not a valid jar file (java.util.zip.ZipException: zip file is empty)"),
            new Case("c-no-entries.jar", "it declares no PeftMethod (no META-INF/services/dev.graft.spi.PeftMethod in its jars)"),
            new Case("d-no-provider.jar", "it declares no PeftMethod (no META-INF/services/dev.graft.spi.PeftMethod in its jars)"),
            new Case("e-missing-provider-class.jar", "Provider " + PACKAGE + ".Gone not found. Rebuild the plugin so that the services file lists only PeftMethod classes"),
            new Case("f-no-default-constructor.jar", "java.lang.NoSuchMethodException: " + PACKAGE + ".NeedsArgument.<init>(). Give the class a public constructor without arguments"),
            new Case("g-constructor-throws.jar", "creating " + PACKAGE + ".ThrowsInConstructor failed with java.lang.IllegalStateException: no licence key found"),
            new Case("h-descriptor-throws.jar", "calling " + PACKAGE + ".ThrowsInDescriptor.descriptor() failed with java.lang.NullPointerException: no description configured"),
            new Case("i-descriptor-null.jar", PACKAGE + ".NullDescriptor.descriptor() returned null. Return a MethodDescriptor"),
            new Case("j-duplicate-id.jar", "Skipped method 'good' from plugin %s: the id 'good' is already taken by the method from plugin"),
            new Case("k-spi-1.jar", "it was built against Graft SPI 1.0, which this runtime (SPI 2.2) cannot run"),
            new Case("l-spi-3.jar", "it was built against Graft SPI 3.0, which this runtime (SPI 2.2) cannot run"),
            new Case("m-spi-garbage.jar", "its descriptor reports SPI version 'two', which is not of the form major.minor"),
            new Case("n-bundles-spi.jar", "it bundles its own copy of the Graft SPI (dev/graft/spi/PeftMethod.class), which the runtime provides"),
            new Case("o-bundles-djl.jar", "it bundles its own copy of DJL (ai/djl/nn/Block.class), which the runtime provides"),
            new Case("p-half-broken.jar", "Skipped part of plugin %s (its other methods loaded): creating " + PACKAGE + ".BrokenHalf failed with java.lang.IllegalStateException: the broken half"),
            new Case("q-uses-runtime.jar", "creating " + PACKAGE + ".UsesRuntime failed with java.lang.NoClassDefFoundError: dev/graft/runtime/peft/PeftModel"),
            new Case("r-static-init-fails.jar", "java.lang.ExceptionInInitializerError caused by java.lang.ArithmeticException: / by zero"));

    @TempDir
    static Path scratch;

    private static Path plugins;
    private static MethodRegistry registry;

    @BeforeAll
    static void buildAndLoad() throws IOException {
        plugins = Files.createDirectories(scratch.resolve("bad-plugins"));
        Path work = scratch.resolve("work");
        build(work, "a-good.jar", MethodSource.method(PACKAGE + ".Good", "good"));
        byte[] noise = new byte[2048];
        new Random(13).nextBytes(noise);
        Files.write(plugins.resolve("a-not-a-jar.jar"), noise);
        Files.write(plugins.resolve("b-zero-bytes.jar"), new byte[0]);
        Files.write(plugins.resolve("c-no-entries.jar"), emptyZip());
        PluginJarBuilder.in(work).source(PACKAGE + ".Helper", "package " + PACKAGE + ";\n\npublic final class Helper {}\n").build(plugins.resolve("d-no-provider.jar"));
        PluginJarBuilder.in(work).method(MethodSource.method(PACKAGE + ".Gone", "gone")).leaveOut(PACKAGE + ".Gone").build(plugins.resolve("e-missing-provider-class.jar"));
        PluginJarBuilder.in(work)
                .source(PACKAGE + ".NeedsArgument", MethodSource.method(PACKAGE + ".NeedsArgument", "needs-argument").toJava()
                        .replace("public NeedsArgument() {", "public NeedsArgument(String licence) {"))
                .build(plugins.resolve("f-no-default-constructor.jar"));
        build(work, "g-constructor-throws.jar", MethodSource.method(PACKAGE + ".ThrowsInConstructor", "throws-in-constructor")
                .withConstructorBody("throw new IllegalStateException(\"no licence key found\");"));
        build(work, "h-descriptor-throws.jar", MethodSource.method(PACKAGE + ".ThrowsInDescriptor", "throws-in-descriptor")
                .withDescription("(String) java.util.Objects.requireNonNull(null, \"no description configured\")"));
        PluginJarBuilder.in(work)
                .source(PACKAGE + ".NullDescriptor", MethodSource.method(PACKAGE + ".NullDescriptor", "null-descriptor").toJava()
                        .replace("return new MethodDescriptor(", "if (hashCode() != 0) { return null; }\n        return new MethodDescriptor("))
                .build(plugins.resolve("i-descriptor-null.jar"));
        build(work, "j-duplicate-id.jar", MethodSource.method(PACKAGE + ".GoodAgain", "good"));
        build(work, "k-spi-1.jar", MethodSource.method(PACKAGE + ".Ancient", "ancient").withSpiVersion("\"1.0\""));
        build(work, "l-spi-3.jar", MethodSource.method(PACKAGE + ".Future", "future").withSpiVersion("\"3.0\""));
        build(work, "m-spi-garbage.jar", MethodSource.method(PACKAGE + ".Garbage", "garbage").withSpiVersion("\"two\""));
        bundling(work, "n-bundles-spi.jar", MethodSource.method(PACKAGE + ".BundlesSpi", "bundles-spi"), PeftMethod.class);
        bundling(work, "o-bundles-djl.jar", MethodSource.method(PACKAGE + ".BundlesDjl", "bundles-djl"), Block.class);
        PluginJarBuilder.in(work)
                .method(MethodSource.method(PACKAGE + ".GoodHalf", "good-half"))
                .method(MethodSource.method(PACKAGE + ".BrokenHalf", "broken-half").withConstructorBody("throw new IllegalStateException(\"the broken half\");"))
                .build(plugins.resolve("p-half-broken.jar"));
        PluginJarBuilder.in(work)
                .method(MethodSource.method(PACKAGE + ".UsesRuntime", "uses-runtime").withConstructorBody("System.out.println(dev.graft.runtime.peft.PeftModel.class);"))
                .classPath(PluginJarBuilder.codeSource(PeftModel.class))
                .build(plugins.resolve("q-uses-runtime.jar"));
        PluginJarBuilder.in(work)
                .source(PACKAGE + ".StaticInit", MethodSource.method(PACKAGE + ".StaticInit", "static-init").toJava()
                        .replace("public StaticInit() {", "private static final int ZERO = Integer.parseInt(\"0\");\n    private static final int BROKEN = 1 / ZERO;\n\n    public StaticInit() {"))
                .build(plugins.resolve("r-static-init-fails.jar"));
        build(work, "z-good-too.jar", MethodSource.method(PACKAGE + ".GoodToo", "good-too"));
        registry = MethodRegistryLoader.load(TestPlugins.NO_CLASS_PATH_METHODS, List.of(plugins));
    }

    @Test
    void testEveryBadPluginGivesOneLineNamingItsJarAndTheCause() {
        for (Case bad : CASES) {
            Path jar = plugins.resolve(bad.jar());
            List<PluginProblem> problems = registry.problems().stream().filter(problem -> problem.source().equals(jar.toString())).collect(Collectors.toList());
            assertThat(problems).as("problems of %s", bad.jar()).hasSize(1);
            String message = problems.get(0).message();
            assertThat(message).as(bad.jar()).startsWith("Skipped ").contains(jar.toString()).contains(bad.fragment().replace("%s", jar.toString()));
            assertThat(message).as(bad.jar()).doesNotContain("\n");
        }
        assertThat(registry.problems()).as("one problem per bad plugin, none for the good ones").hasSize(CASES.size());
    }

    @Test
    void testTheGoodPluginsAndTheGoodHalfStillLoad() {
        assertThat(registry.methods()).extracting(LoadedMethod::id).containsExactly("good", "good-half", "good-too");
        assertThat(registry.requireMethod("good").source()).isEqualTo(plugins.resolve("a-good.jar").toString());
        assertThat(registry.requireMethod("good-half").source()).isEqualTo(plugins.resolve("p-half-broken.jar").toString());
    }

    @Test
    void testAPluginCannotReachRuntimeInternals() {
        ClassLoader pluginLoader = registry.requireMethod("good").classLoader();

        assertThatThrownBy(() -> pluginLoader.loadClass(PeftModel.class.getName())).isInstanceOf(ClassNotFoundException.class);
        assertThatThrownBy(() -> Class.forName(MethodRegistry.class.getName(), true, pluginLoader)).isInstanceOf(ClassNotFoundException.class);
        assertThat(pluginLoader.getResource(PeftModel.class.getName().replace('.', '/') + ".class")).isNull();
    }

    @Test
    void testMethodsListsTheProblemsAndExitsZero() {
        Result result = graft("methods", "--plugins", plugins.toString());
        MethodRegistry expected = throughCli(Optional.empty());

        assertThat(result.exitCode()).as(result.err()).isZero();
        assertThat(result.err()).isEmpty();
        assertThat(expected.problems()).containsAll(registry.problems());
        List<String> lines = result.out().lines().collect(Collectors.toList());
        List<String> problems = new ArrayList<>();
        problems.add(format("%d problems:", expected.problems().size()));
        expected.problems().forEach(problem -> problems.add("  " + problem.message()));
        assertThat(lines.subList(lines.indexOf("") + 1, lines.size())).containsExactlyElementsOf(problems);
        assertThat(lines).anyMatch(line -> line.startsWith("good-half ")).anyMatch(line -> line.startsWith("good-too "));
    }

    @Test
    void testStrictMakesAnyProblemFatal() throws IOException {
        int problems = throughCli(Optional.empty()).problems().size();
        Result methods = graft("methods", "--strict", "--plugins", plugins.toString());

        assertThat(methods.exitCode()).isEqualTo(1);
        assertThat(methods.out()).contains(format("%d problems:", problems));
        assertThat(methods.err()).isEqualTo(format("graft methods: --strict: %d plugin problems (listed above). Fix or remove those plugins, or run without --strict.%n", problems));

        Path output = scratch.resolve("never-written.safetensors");
        Result forward = graft("forward", "--strict", "--plugins", plugins.toString(), "--model", "minilm", "--text", "hello", "--output", output.toString());
        assertThat(forward.exitCode()).isEqualTo(1);
        assertThat(forward.err()).hasLineCount(1).startsWith(format("graft forward: --strict: %d plugin problems, so nothing ran: ", problems))
                .contains("Skipped plugin " + plugins.resolve("a-not-a-jar.jar"));
        assertThat(output).doesNotExist();

        Path goodOnly = Files.createDirectories(scratch.resolve("good-only"));
        Files.copy(plugins.resolve("a-good.jar"), goodOnly.resolve("a-good.jar"));
        Path emptyHome = Files.createDirectories(scratch.resolve("empty-home").resolve("plugins")).getParent();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int clean = GraftMain.run(List.of("methods", "--strict", "--plugins", goodOnly.toString()), Optional.of(emptyHome), new PrintWriter(out), new PrintWriter(err));
        assertThat(clean).as(err.toString()).isZero();
        assertThat(out.toString()).contains("\ngood ").doesNotContain("problem");
    }

    @Test
    void testTrustedPluginsRefusesEveryOtherJarWithTheSumItFound() throws IOException {
        Path good = plugins.resolve("a-good.jar");
        Path trustFile = Files.writeString(scratch.resolve("trusted.sha256"), String.join("\n",
                "# the plugins we reviewed",
                TrustedPlugins.sha256(good) + "  a-good.jar",
                TrustedPlugins.sha256(plugins.resolve("z-good-too.jar")).toUpperCase(Locale.ROOT) + " *z-good-too.jar",
                ""));

        MethodRegistry trusted = MethodRegistryLoader.load(TestPlugins.NO_CLASS_PATH_METHODS, List.of(plugins), Optional.of(TrustedPlugins.read(trustFile)));

        assertThat(trusted.ids()).containsExactly("good", "good-too");
        assertThat(trusted.problems()).hasSize(CASES.size());
        for (Case bad : CASES) {
            Path jar = plugins.resolve(bad.jar());
            String sum = TrustedPlugins.sha256(jar);
            assertThat(trusted.problems()).filteredOn(problem -> problem.source().equals(jar.toString())).singleElement().extracting(PluginProblem::message)
                    .isEqualTo(format("Skipped plugin %s: the file has SHA-256 %s, which is not in the trusted list %s. If you trust it, add the line '%s  %s' to the list; otherwise remove it.",
                            jar, sum, trustFile, sum, bad.jar()));
        }
    }

    @Test
    void testTrustedPluginsOnTheCommandLine() throws IOException {
        List<String> sums = new ArrayList<>();
        try (Stream<Path> files = Files.walk(GraftCli.DISTRIBUTION.resolve("plugins"))) {
            for (Path jar : files.filter(file -> file.toString().endsWith(".jar")).collect(Collectors.toList())) {
                sums.add(TrustedPlugins.sha256(jar) + "  " + jar.getFileName());
            }
        }
        sums.add(TrustedPlugins.sha256(plugins.resolve("a-good.jar")) + "  a-good.jar");
        Path trustFile = Files.write(scratch.resolve("distribution-and-good.sha256"), sums);
        MethodRegistry expected = throughCli(Optional.of(TrustedPlugins.read(trustFile)));

        Result result = graft("methods", "--trusted-plugins", trustFile.toString(), "--plugins", plugins.toString());

        assertThat(result.exitCode()).as(result.err()).isZero();
        assertThat(expected.ids()).contains("lora", "good").doesNotContain("good-too", "good-half");
        assertThat(result.out()).contains("\ngood ").doesNotContain("\ngood-too ").doesNotContain("\ngood-half ");
        assertThat(result.out()).contains(format("%d problems:", expected.problems().size()));
        for (PluginProblem problem : expected.problems()) {
            assertThat(result.out()).contains("  " + problem.message());
        }
        assertThat(result.out()).contains(format("  Skipped plugin %s: the file has SHA-256 %s, which is not in the trusted list %s.", plugins.resolve("z-good-too.jar"),
                TrustedPlugins.sha256(plugins.resolve("z-good-too.jar")), trustFile));
        assertThat(expected.problems()).noneMatch(problem -> problem.source().startsWith(GraftCli.DISTRIBUTION.toString()) && problem.message().contains("trusted list"));

        Path malformed = Files.writeString(scratch.resolve("malformed.sha256"), "not a sum  a-good.jar\n");
        Result bad = graft("methods", "--trusted-plugins", malformed.toString());
        assertThat(bad.exitCode()).isEqualTo(2);
        assertThat(bad.err()).hasLineCount(1).contains("trusted plugin list " + malformed + ", line 1 is not a sha256sum line");
    }

    /** What {@code graft ... --plugins plugins} loads in this process: the distribution's plugins, the test class path's methods, then the bad folder. */
    private static MethodRegistry throughCli(Optional<TrustedPlugins> trusted) {
        PluginConfiguration configuration = PluginConfiguration.of(Optional.of(GraftCli.DISTRIBUTION), List.of(plugins));
        return MethodRegistryLoader.load(trusted.map(configuration::withTrustedPlugins).orElse(configuration));
    }

    @Test
    void testAPluginThatThrowsInCreateIsNamedByTrain() throws IOException {
        Result result = trainWith("explode-create", "return new Instance();", "throw new IllegalStateException(\"create refuses: no licence\");");

        assertThat(result.exitCode()).isNotZero();
        assertThat(result.err()).hasLineCount(1).contains("create refuses: no licence")
                .contains(format("thrown by plugin %s, in %s.ShiftMethod.create(ShiftMethod.java:", scratch.resolve("explode-create").resolve("explode-create.jar"),
                        TestThirdPartyGate.PACKAGE));
    }

    @Test
    void testAPluginThatThrowsInTheForwardPassIsNamedByTrain() throws IOException {
        Result result = trainWith("explode-forward", "return Linear.linear(x,", "if (x != null) { throw new IllegalStateException(\"forward refuses: bad shape\"); }\n            return Linear.linear(x,");

        assertThat(result.exitCode()).isNotZero();
        assertThat(result.err()).hasLineCount(1).contains("forward refuses: bad shape")
                .contains(format("thrown by plugin %s, in %s.ShiftMethod$Module.delta(ShiftMethod.java:", scratch.resolve("explode-forward").resolve("explode-forward.jar"),
                        TestThirdPartyGate.PACKAGE));
    }

    /** Trains MiniLM for one step with a copy of the third-party shift method, {@code id}, whose code has {@code original} replaced. */
    private static Result trainWith(String id, String original, String replacement) throws IOException {
        assertThat(TestThirdPartyGate.SHIFT_METHOD).contains(original);
        Path directory = scratch.resolve(id);
        PluginJarBuilder.in(scratch.resolve("work"))
                .source(TestThirdPartyGate.PACKAGE + ".ShiftMethod", TestThirdPartyGate.SHIFT_METHOD
                        .replace("new MethodDescriptor(\"shift\"", "new MethodDescriptor(\"" + id + "\"")
                        .replace(original, replacement))
                .build(directory.resolve(id + ".jar"));
        Path examples = Path.of(System.getProperty("graft.repository", "..")).toAbsolutePath().normalize().resolve("examples");
        Path recipe = Files.writeString(scratch.resolve(id + ".yaml"), String.join("\n",
                "model: minilm",
                "adapters:",
                "  - {name: exploding, method: " + id + ", target_modules: [query]}",
                "data:",
                "  train: " + examples.resolve("data/spam-assassin/train.jsonl"),
                "  validation: " + examples.resolve("data/spam-assassin/validation.jsonl"),
                ""));
        Path run = scratch.resolve(id + "-run");
        return graft("train", recipe.toString(), "--max-steps", "1", "--batch-size", "2", "--output", run.toString(), "--plugins", directory.toString());
    }

    private static void build(Path work, String jar, MethodSource method) throws IOException {
        PluginJarBuilder.in(work).method(method).build(plugins.resolve(jar));
    }

    /** A plugin built with {@code shared}'s jar at compile scope: its class file ends up in the plugin's jar. */
    private static void bundling(Path work, String jar, MethodSource method, Class<?> shared) throws IOException {
        Path built = PluginJarBuilder.in(work).method(method).build(work.resolve(jar));
        String entry = shared.getName().replace('.', '/') + ".class";
        try (JarFile input = new JarFile(built.toFile());
                OutputStream file = Files.newOutputStream(plugins.resolve(jar));
                JarOutputStream output = new JarOutputStream(file)) {
            for (JarEntry existing : Collections.list(input.entries())) {
                output.putNextEntry(new JarEntry(existing.getName()));
                try (InputStream bytes = input.getInputStream(existing)) {
                    bytes.transferTo(output);
                }
                output.closeEntry();
            }
            output.putNextEntry(new JarEntry(entry));
            try (InputStream bytes = shared.getClassLoader().getResourceAsStream(entry)) {
                bytes.transferTo(output);
            }
            output.closeEntry();
        }
    }

    /** A zip file with no entries: only the end-of-central-directory record. */
    private static byte[] emptyZip() {
        byte[] zip = new byte[22];
        zip[0] = 0x50;
        zip[1] = 0x4b;
        zip[2] = 0x05;
        zip[3] = 0x06;
        return zip;
    }
}

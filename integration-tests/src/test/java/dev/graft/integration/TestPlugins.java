package dev.graft.integration;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/**
 * The plugin directories the end-to-end tests load: good plugins next to every kind of broken one, all compiled
 * at test time with the AutoService processor.
 *
 * <pre>
 * plugins/                       more-plugins/
 *   ancient.jar    SPI 1.0         extra-copy.jar  id 'extra' again
 *   broken.jar     random bytes    late.jar        good
 *   extra.jar      good
 *   folder-method/ good, two jars
 *   future.jar     SPI 3.0
 *   missing-class.jar  NoClassDefFoundError in the constructor
 *   probe.jar      good, describes what its class loader sees
 *   throws.jar     constructor throws
 * </pre>
 *
 * @param plugins the first plugin directory
 * @param morePlugins the second plugin directory
 */
record TestPlugins(Path plugins, Path morePlugins) {
    /** Sees no providers: the test class path holds graft-plugin-lora, which must not mix into these tests. */
    static final ClassLoader NO_CLASS_PATH_METHODS = ClassLoader.getPlatformClassLoader();

    /** Where the AutoService processor registers a plugin's methods. */
    static final String SERVICE_FILE = "META-INF/services/dev.graft.spi.PeftMethod";

    /**
     * One PyTorch operation, as a class usable in a plugin ({@code PytorchSum.sum()}) and as a single-file program
     * ({@code java PytorchSum.java}); it prints or returns {@link #PYTORCH_SUM_RESULT}.
     */
    static final String PYTORCH_SUM = String.join("\n",
            "package com.example.djl;",
            "",
            "import ai.djl.engine.Engine;",
            "import ai.djl.ndarray.NDManager;",
            "",
            "public final class PytorchSum {",
            "    private PytorchSum() {}",
            "",
            "    public static void main(String[] args) {",
            "        System.out.println(sum());",
            "    }",
            "",
            "    public static String sum() {",
            "        try (NDManager manager = NDManager.newBaseManager()) {",
            "            float sum = manager.create(new float[] {1, 2, 3}).sum().getFloat();",
            "            return Engine.getInstance().getEngineName() + \" \" + Engine.getInstance().getVersion() + \" sum=\" + sum;",
            "        }",
            "    }",
            "}",
            "");

    static final String PYTORCH_SUM_RESULT = "PyTorch 2.7.1 sum=6.0";

    /** What the probe method reports when its loader is isolated as designed. */
    static final String ISOLATED = "context=plugin spi=shared djl=shared guice=hidden runtime=hidden junit=hidden";

    private static final String PROBE = String.join("\n",
            "package com.example.probe;",
            "",
            "public final class Probe {",
            "    private Probe() {}",
            "",
            "    public static String describe(Class<?> self) {",
            "        ClassLoader own = self.getClassLoader();",
            "        return \"context=\" + (Thread.currentThread().getContextClassLoader() == own ? \"plugin\" : \"other\")",
            "                + \" spi=\" + origin(own, \"dev.graft.spi.PeftMethod\")",
            "                + \" djl=\" + origin(own, \"ai.djl.nn.Block\")",
            "                + \" guice=\" + origin(own, \"com.google.inject.Injector\")",
            "                + \" runtime=\" + origin(own, \"dev.graft.runtime.plugin.MethodRegistry\")",
            "                + \" junit=\" + origin(own, \"org.junit.jupiter.api.Test\");",
            "    }",
            "",
            "    private static String origin(ClassLoader own, String name) {",
            "        try {",
            "            return Class.forName(name, false, own).getClassLoader() == own ? \"plugin\" : \"shared\";",
            "        }",
            "        catch (ClassNotFoundException e) {",
            "            return \"hidden\";",
            "        }",
            "    }",
            "}",
            "");

    private static final String LIBRARY = String.join("\n",
            "package com.example.library;",
            "",
            "public final class Library {",
            "    private Library() {}",
            "",
            "    public static String text() {",
            "        return \"described by the library jar\";",
            "    }",
            "}",
            "");

    private static final String HELPER = String.join("\n",
            "package com.example.missing;",
            "",
            "final class Helper {",
            "}",
            "");

    /** Builds both directories under {@code scratch}. */
    static TestPlugins build(Path scratch) throws IOException {
        Path plugins = Files.createDirectories(scratch.resolve("plugins"));
        Path morePlugins = Files.createDirectories(scratch.resolve("more-plugins"));
        Path work = scratch.resolve("work");

        jar(work, MethodSource.method("com.example.extra.ExtraMethod", "extra"), plugins.resolve("extra.jar"));
        jar(work, MethodSource.method("com.example.ancient.AncientMethod", "ancient").withSpiVersion("\"1.0\""), plugins.resolve("ancient.jar"));
        jar(work, MethodSource.method("com.example.future.FutureMethod", "future").withSpiVersion("\"3.0\""), plugins.resolve("future.jar"));
        jar(work, MethodSource.method("com.example.throwing.ThrowingMethod", "throwing")
                .withConstructorBody("throw new IllegalStateException(\"this constructor refuses to run\");"), plugins.resolve("throws.jar"));
        PluginJarBuilder.in(work)
                .method(MethodSource.method("com.example.missing.NeedsHelper", "needs-helper").withConstructorBody("new Helper();"))
                .source("com.example.missing.Helper", HELPER)
                .leaveOut("com.example.missing.Helper")
                .build(plugins.resolve("missing-class.jar"));
        PluginJarBuilder.in(work)
                .method(MethodSource.method("com.example.probe.ProbeMethod", "probe").withDescription("Probe.describe(getClass())"))
                .source("com.example.probe.Probe", PROBE)
                .build(plugins.resolve("probe.jar"));
        Path library = PluginJarBuilder.in(work).source("com.example.library.Library", LIBRARY).build(plugins.resolve("folder-method").resolve("library.jar"));
        PluginJarBuilder.in(work)
                .method(MethodSource.method("com.example.folder.FolderMethod", "folder-method").withDescription("com.example.library.Library.text()"))
                .classPath(library)
                .build(plugins.resolve("folder-method").resolve("method.jar"));
        byte[] noise = new byte[1024];
        new Random(1).nextBytes(noise);
        Files.write(plugins.resolve("broken.jar"), noise);

        jar(work, MethodSource.method("com.example.copy.ExtraCopy", "extra"), morePlugins.resolve("extra-copy.jar"));
        jar(work, MethodSource.method("com.example.late.LateMethod", "late"), morePlugins.resolve("late.jar"));
        return new TestPlugins(plugins, morePlugins);
    }

    private static void jar(Path work, MethodSource method, Path jar) throws IOException {
        PluginJarBuilder.in(work).method(method).build(jar);
    }
}

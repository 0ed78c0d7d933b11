package dev.graft.integration;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.nn.Block;
import com.google.auto.service.AutoService;
import com.google.auto.service.processor.AutoServiceProcessor;
import dev.graft.spi.PeftMethod;

import java.io.IOException;
import java.io.OutputStream;
import java.io.StringWriter;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.StandardLocation;
import javax.tools.ToolProvider;

/**
 * Builds plugin jars at test time the way a plugin's own build does: javac over the sources against the SPI,
 * DJL's API and the AutoService annotations, with the AutoService processor writing the services file.
 */
final class PluginJarBuilder {
    private final Path workDirectory;
    private final Map<String, String> sources = new LinkedHashMap<>();
    private final List<Path> classPath = new ArrayList<>();
    private final List<String> leftOut = new ArrayList<>();

    private PluginJarBuilder(Path workDirectory) {
        this.workDirectory = requireNonNull(workDirectory, "workDirectory is null");
    }

    /** A builder that compiles in a fresh folder under {@code scratch}. */
    static PluginJarBuilder in(Path scratch) throws IOException {
        Files.createDirectories(scratch);
        return new PluginJarBuilder(Files.createTempDirectory(scratch, "plugin-build"));
    }

    /** Adds a compilation unit for the top-level class {@code qualifiedName}. */
    PluginJarBuilder source(String qualifiedName, String code) {
        sources.put(requireNonNull(qualifiedName, "qualifiedName is null"), requireNonNull(code, "code is null"));
        return this;
    }

    /** Adds a method source. */
    PluginJarBuilder method(MethodSource method) {
        return source(method.qualifiedName(), method.toJava());
    }

    /** Compiles against {@code jar} too (it is not put into the built jar). */
    PluginJarBuilder classPath(Path jar) {
        classPath.add(requireNonNull(jar, "jar is null"));
        return this;
    }

    /** Compiles {@code qualifiedName} but leaves its class file out of the jar, so loading it fails at run time. */
    PluginJarBuilder leaveOut(String qualifiedName) {
        leftOut.add(requireNonNull(qualifiedName, "qualifiedName is null"));
        return this;
    }

    /** Compiles the sources and writes the class files and generated resources to {@code jar}. */
    Path build(Path jar) throws IOException {
        Path sourceDirectory = Files.createDirectories(workDirectory.resolve("src"));
        Path classes = Files.createDirectories(workDirectory.resolve("classes"));
        List<Path> sourceFiles = new ArrayList<>();
        for (Map.Entry<String, String> source : sources.entrySet()) {
            Path file = sourceDirectory.resolve(source.getKey().replace('.', '/') + ".java");
            Files.createDirectories(file.getParent());
            sourceFiles.add(Files.writeString(file, source.getValue()));
        }
        compile(sourceFiles, classes);
        for (String name : leftOut) {
            Files.delete(classes.resolve(name.replace('.', '/') + ".class"));
        }
        return writeJar(classes, jar);
    }

    private void compile(List<Path> sourceFiles, Path classes) throws IOException {
        JavaCompiler compiler = ToolProvider.getSystemJavaCompiler();
        DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
        try (StandardJavaFileManager files = compiler.getStandardFileManager(diagnostics, null, null)) {
            List<Path> compileClassPath = new ArrayList<>(List.of(codeSource(PeftMethod.class), codeSource(Block.class), codeSource(AutoService.class)));
            compileClassPath.addAll(classPath);
            files.setLocationFromPaths(StandardLocation.CLASS_PATH, compileClassPath);
            files.setLocationFromPaths(StandardLocation.CLASS_OUTPUT, List.of(classes));
            StringWriter output = new StringWriter();
            JavaCompiler.CompilationTask task = compiler.getTask(
                    output, files, diagnostics, List.of("--release", "17"), null, files.getJavaFileObjectsFromPaths(sourceFiles));
            task.setProcessors(List.of(new AutoServiceProcessor()));
            if (!task.call()) {
                throw new IllegalStateException(format("test plugin does not compile: %s %s", diagnostics.getDiagnostics(), output));
            }
        }
    }

    private static Path writeJar(Path classes, Path jar) throws IOException {
        Files.createDirectories(jar.getParent());
        Manifest manifest = new Manifest();
        manifest.getMainAttributes().putValue("Manifest-Version", "1.0");
        List<Path> entries;
        try (Stream<Path> walk = Files.walk(classes)) {
            entries = walk.filter(Files::isRegularFile).sorted().collect(Collectors.toList());
        }
        try (OutputStream file = Files.newOutputStream(jar); JarOutputStream output = new JarOutputStream(file, manifest)) {
            for (Path entry : entries) {
                output.putNextEntry(new JarEntry(classes.relativize(entry).toString().replace('\\', '/')));
                output.write(Files.readAllBytes(entry));
                output.closeEntry();
            }
        }
        return jar;
    }

    /** The jar or folder {@code type} was loaded from. */
    static Path codeSource(Class<?> type) {
        try {
            return Path.of(type.getProtectionDomain().getCodeSource().getLocation().toURI());
        }
        catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The entries of {@code jar}. */
    static Set<String> entries(Path jar) throws IOException {
        try (JarFile file = new JarFile(jar.toFile())) {
            return file.stream().map(JarEntry::getName).collect(Collectors.toUnmodifiableSet());
        }
    }
}

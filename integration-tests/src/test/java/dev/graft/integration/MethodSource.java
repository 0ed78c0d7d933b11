package dev.graft.integration;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import java.util.Locale;

/**
 * The Java source of a test {@code PeftMethod}, registered with {@code @AutoService} like a real one. Parts are
 * Java expressions or statements pasted into the class, so a test can make it throw, report another SPI version
 * or describe what it sees.
 *
 * @param qualifiedName the class name, e.g. {@code com.example.extra.ExtraMethod}
 * @param id the method id
 * @param spiVersion a Java expression for the descriptor's SPI version, e.g. {@code SpiVersion.CURRENT} or {@code "3.0"}
 * @param constructorBody statements run by the public no-argument constructor
 * @param description a Java expression for the descriptor's description
 */
record MethodSource(String qualifiedName, String id, String spiVersion, String constructorBody, String description) {
    MethodSource {
        requireNonNull(qualifiedName, "qualifiedName is null");
        requireNonNull(id, "id is null");
        requireNonNull(spiVersion, "spiVersion is null");
        requireNonNull(constructorBody, "constructorBody is null");
        requireNonNull(description, "description is null");
    }

    /** A well-behaved method {@code id} built against the current SPI. */
    static MethodSource method(String qualifiedName, String id) {
        return new MethodSource(qualifiedName, id, "SpiVersion.CURRENT", "", format("\"the %s test method\"", id));
    }

    MethodSource withSpiVersion(String expression) {
        return new MethodSource(qualifiedName, id, expression, constructorBody, description);
    }

    MethodSource withConstructorBody(String statements) {
        return new MethodSource(qualifiedName, id, spiVersion, statements, description);
    }

    MethodSource withDescription(String expression) {
        return new MethodSource(qualifiedName, id, spiVersion, constructorBody, expression);
    }

    String packageName() {
        return qualifiedName.substring(0, qualifiedName.lastIndexOf('.'));
    }

    String simpleName() {
        return qualifiedName.substring(qualifiedName.lastIndexOf('.') + 1);
    }

    /** The compilation unit. */
    String toJava() {
        return String.join("\n",
                "package " + packageName() + ";",
                "",
                "import com.google.auto.service.AutoService;",
                "import dev.graft.spi.MethodDescriptor;",
                "import dev.graft.spi.MethodInstance;",
                "import dev.graft.spi.MethodOptions;",
                "import dev.graft.spi.ModelContext;",
                "import dev.graft.spi.OptionSchema;",
                "import dev.graft.spi.PeftMethod;",
                "import dev.graft.spi.SiteKind;",
                "import dev.graft.spi.SpiVersion;",
                "import java.util.EnumSet;",
                "import java.util.Map;",
                "",
                "@AutoService(PeftMethod.class)",
                "public final class " + simpleName() + " implements PeftMethod {",
                "    public " + simpleName() + "() {",
                "        " + constructorBody,
                "    }",
                "",
                "    @Override",
                "    public MethodDescriptor descriptor() {",
                format("        return new MethodDescriptor(\"%s\", \"2.1.0\", %s, \"%s\", EnumSet.of(SiteKind.LINEAR, SiteKind.SUBLAYER), dev.graft.spi.MergeableLinearModule.class,",
                        id, spiVersion, id.toUpperCase(Locale.ROOT)),
                "                OptionSchema.of(), Map.of(), " + description + ");",
                "    }",
                "",
                "    @Override",
                "    public MethodInstance create(MethodOptions options, ModelContext model) {",
                "        throw new UnsupportedOperationException(\"a test method makes no instances\");",
                "    }",
                "}",
                "");
    }
}

package dev.graft.integration;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import com.tngtech.archunit.core.domain.JavaAnnotation;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaModifier;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchCondition;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.lang.ConditionEvents;
import com.tngtech.archunit.lang.SimpleConditionEvent;
import dev.graft.spi.PeftMethod;

import java.util.Arrays;
import java.util.Optional;

import org.junit.jupiter.api.Test;

/**
 * The dependency rules of DESIGN.md and the module layout of the README, over the main classes of every module on
 * this module's class path (spi, formats, core, tck, cli, plugins). Every rule fails when it matches no class
 * ({@code archRule.failOnEmptyShould=true} in archunit.properties, and no rule allows an empty should), so a
 * package renamed without its rule breaks the build instead of silently checking nothing.
 */
@AnalyzeClasses(packages = "dev.graft", importOptions = {ImportOption.DoNotIncludeTests.class, TestArchitecture.DoNotIncludeTestJars.class})
final class TestArchitecture {
    /** Leaves out test-jars (the runtime's reference models): the rules are about main code. */
    static final class DoNotIncludeTestJars implements ImportOption {
        @Override
        public boolean includes(com.tngtech.archunit.core.importer.Location location) {
            return !location.contains("-tests.jar");
        }
    }

    private static final String AUTO_SERVICE = "com.google.auto.service.AutoService";

    /** graft-formats (runtime/formats). */
    private static final String[] FORMATS_PACKAGES = {"dev.graft.runtime.format..", "dev.graft.runtime.onnx..", "dev.graft.runtime.error.."};
    /** graft-runtime (runtime/core). */
    private static final String[] CORE_PACKAGES = {
        "dev.graft.runtime.plugin..", "dev.graft.runtime.io..", "dev.graft.runtime.targeting..", "dev.graft.runtime.data..",
        "dev.graft.runtime.report..", "dev.graft.runtime.compose..", "dev.graft.runtime.model..", "dev.graft.runtime.loader..",
        "dev.graft.runtime.peft..", "dev.graft.runtime.task..", "dev.graft.runtime.recipe..", "dev.graft.runtime.train..",
        "dev.graft.runtime.store.."};
    /** graft-cli (runtime/cli). */
    private static final String[] CLI_PACKAGES = {"dev.graft.runtime.cli..", "dev.graft.runtime.inject.."};

    @ArchTest
    static final ArchRule SPI_DEPENDS_ON_NOTHING_OF_OURS = noClasses()
            .that().resideInAPackage("dev.graft.spi..")
            .should().dependOnClassesThat().resideInAnyPackage(
                    "dev.graft.runtime..", "dev.graft.plugin..", "dev.graft.tck..", "com.google.inject..", "com.fasterxml.jackson..")
            .because("the SPI is the contract: plugins compile against it alone");

    @ArchTest
    static final ArchRule SPI_DEPENDS_ONLY_ON_THE_JDK_AND_DJL = classes()
            .that().resideInAPackage("dev.graft.spi..")
            .should().onlyDependOnClassesThat().resideInAnyPackage("dev.graft.spi..", "java..", "ai.djl..")
            .because("the SPI depends on the JDK and ai.djl:api only");

    @ArchTest
    static final ArchRule PLUGINS_DEPEND_ONLY_ON_THE_SPI_DJL_AND_THE_JDK = classes()
            .that().resideInAPackage("dev.graft.plugin..")
            .should().onlyDependOnClassesThat().resideInAnyPackage(
                    "dev.graft.plugin..", "dev.graft.spi..", "ai.djl..", "java..", "com.google.auto.service..")
            .because("a plugin's class loader sees only the JDK, the SPI and DJL");

    @ArchTest
    static final ArchRule PLUGINS_DO_NOT_DEPEND_ON_EACH_OTHER = slices()
            .matching("dev.graft.plugin.(*)..")
            .should().notDependOnEachOther()
            .because("every plugin has its own class loader; removing one must not break another");

    @ArchTest
    static final ArchRule RUNTIME_NAMES_NO_METHOD = noClasses()
            .that().resideInAPackage("dev.graft.runtime..")
            .should().dependOnClassesThat().resideInAnyPackage("dev.graft.plugin..", "dev.graft.tck..")
            .because("the runtime knows methods only through the SPI");

    @ArchTest
    static final ArchRule MODEL_CODE_MULTIPLIES_BY_CONSTANTS_THROUGH_SCALARS = noClasses()
            .that().resideInAnyPackage("dev.graft.runtime.model..", "dev.graft.runtime.compose..", "dev.graft.runtime.task..", "dev.graft.plugin..")
            .should().callMethod(NDArray.class, "mul", Number.class)
            .orShould().callMethod(NDArray.class, "div", Number.class)
            .orShould().callMethod(NDArray.class, "pow", Number.class)
            .because("DJL frees the Java buffer of a Number operand while autograd still reads it (dev.graft.spi.Scalars explains): "
                    + "use Scalars.times and Scalars.dividedBy, or square()");

    @ArchTest
    static final ArchRule VALUES_ARE_COPIED_INSIDE_PYTORCH = noClasses()
            .that().resideInAPackage("dev.graft..")
            .should().callMethod(NDArray.class, "set", java.nio.Buffer.class)
            .because("NDArray.set(Buffer) aliases a Java buffer and makes libtorch print its 'silent wrong result' warning: use dev.graft.spi.ArrayValues.copy");

    /** The Maven modules as layers: which module's packages may use which (runtime/pom.xml lists them). */
    @ArchTest
    static final ArchRule MODULES_ARE_LAYERED = layeredArchitecture()
            .consideringOnlyDependenciesInLayers()
            .ensureAllClassesAreContainedInArchitecture()
            .layer("spi").definedBy("dev.graft.spi..")
            .layer("formats").definedBy(FORMATS_PACKAGES)
            .layer("core").definedBy(CORE_PACKAGES)
            .layer("tck").definedBy("dev.graft.tck..")
            .layer("cli").definedBy(CLI_PACKAGES)
            .layer("plugins").definedBy("dev.graft.plugin..")
            .layer("spark").definedBy("dev.graft.spark..")
            .whereLayer("spi").mayOnlyAccessLayers("spi")
            .whereLayer("formats").mayOnlyAccessLayers("formats")
            .whereLayer("core").mayOnlyAccessLayers("spi", "formats", "core")
            .whereLayer("tck").mayOnlyAccessLayers("spi", "formats", "core", "tck")
            .whereLayer("cli").mayOnlyAccessLayers("spi", "formats", "core", "cli")
            .whereLayer("plugins").mayOnlyAccessLayers("spi", "plugins")
            .whereLayer("spark").mayOnlyAccessLayers("spi", "formats", "core", "spark")
            .whereLayer("spark").mayNotBeAccessedByAnyLayer()
            .whereLayer("cli").mayNotBeAccessedByAnyLayer()
            .whereLayer("tck").mayNotBeAccessedByAnyLayer()
            .whereLayer("plugins").mayNotBeAccessedByAnyLayer()
            .because("graft-formats depends on nothing of ours, the core never on the CLI, the TCK only on the SPI, the formats (to read what an adapter saved) and the core, "
                    + "plugins only on the SPI, graft-spark only on the SPI, the formats and the core (the README's module diagram)");

    @ArchTest
    static final ArchRule TCK_USES_ONLY_THE_CORES_PUBLIC_PACKAGES = noClasses()
            .that().resideInAPackage("dev.graft.tck..")
            .should().dependOnClassesThat().resideInAnyPackage("dev.graft.runtime.plugin..", "dev.graft.runtime.loader..", "dev.graft.runtime.io..")
            .because("the conformance kit drives a method the way a user does: a model, an adapter, a trainer and a store");

    /**
     * The core's packages in the order data flows through them (the README's diagram): a layer may use the layers
     * before it, never one after it.
     */
    @ArchTest
    static final ArchRule CORE_PACKAGES_FOLLOW_THE_DATA_FLOW = layeredArchitecture()
            .consideringOnlyDependenciesInLayers()
            .layer("foundations").definedBy("dev.graft.runtime.plugin..", "dev.graft.runtime.io..", "dev.graft.runtime.targeting..",
                    "dev.graft.runtime.data..", "dev.graft.runtime.report..")
            .layer("composition at a site").definedBy("dev.graft.runtime.compose..")
            .layer("models").definedBy("dev.graft.runtime.model..")
            .layer("loading").definedBy("dev.graft.runtime.loader..")
            .layer("PEFT model").definedBy("dev.graft.runtime.peft..")
            .layer("tasks, recipes, training and store").definedBy("dev.graft.runtime.task..", "dev.graft.runtime.recipe..",
                    "dev.graft.runtime.train..", "dev.graft.runtime.store..")
            .layer("front ends").definedBy("dev.graft.tck..", "dev.graft.runtime.cli..", "dev.graft.runtime.inject..")
            .whereLayer("front ends").mayNotBeAccessedByAnyLayer()
            .whereLayer("tasks, recipes, training and store").mayOnlyBeAccessedByLayers("front ends")
            .whereLayer("PEFT model").mayOnlyBeAccessedByLayers("tasks, recipes, training and store", "front ends")
            .whereLayer("loading").mayOnlyBeAccessedByLayers("tasks, recipes, training and store", "front ends")
            .whereLayer("models").mayOnlyBeAccessedByLayers("loading", "PEFT model", "tasks, recipes, training and store", "front ends")
            .whereLayer("composition at a site").mayOnlyBeAccessedByLayers("models", "loading", "PEFT model", "tasks, recipes, training and store", "front ends")
            .because("methods compose at a site inside the model's blocks; recipe, plugins and model flow through the registry and loader into the PEFT model, then training, store and export");

    @ArchTest
    static final ArchRule NO_CYCLES_BETWEEN_MODULES = slices()
            .matching("dev.graft.(*)..")
            .should().beFreeOfCycles();

    @ArchTest
    static final ArchRule NO_CYCLES_BETWEEN_RUNTIME_AREAS = slices()
            .matching("dev.graft.runtime.(*)..")
            .should().beFreeOfCycles();

    @ArchTest
    static final ArchRule METHODS_ARE_REGISTERED_WITH_AUTO_SERVICE = classes()
            .that().implement(PeftMethod.class)
            .and().areNotInterfaces()
            .and().doNotHaveModifier(JavaModifier.ABSTRACT)
            .should(beAnnotatedWithAutoServiceFor(PeftMethod.class))
            .because("providers are registered by the AutoService processor, never by a hand-written services file");

    private TestArchitecture() {}

    /** A rule whose package names match nothing fails instead of passing: a renamed package cannot switch a rule off. */
    @Test
    void testRuleOverAMisspelledPackageFails() {
        JavaClasses classes = new ClassFileImporter().importPackages("dev.graft.runtime.format");
        ArchRule misspelled = noClasses().that().resideInAPackage("dev.graft.runtime.formats..")
                .should().dependOnClassesThat().resideInAPackage("dev.graft.runtime.cli..");
        assertThatThrownBy(() -> misspelled.check(classes))
                .isInstanceOf(AssertionError.class)
                .hasMessageContaining("failed to check any classes");
    }

    private static ArchCondition<JavaClass> beAnnotatedWithAutoServiceFor(Class<?> service) {
        return new ArchCondition<>("be annotated with @AutoService(" + service.getSimpleName() + ".class)") {
            @Override
            public void check(JavaClass javaClass, ConditionEvents events) {
                Optional<JavaAnnotation<JavaClass>> annotation = javaClass.tryGetAnnotationOfType(AUTO_SERVICE);
                boolean registered = annotation
                        .flatMap(autoService -> autoService.get("value"))
                        .map(value -> Arrays.stream((JavaClass[]) value).anyMatch(type -> type.isEquivalentTo(service)))
                        .orElse(false);
                String message = String.format("%s %s annotated with @AutoService(%s.class)",
                        javaClass.getName(), registered ? "is" : "is not", service.getSimpleName());
                events.add(new SimpleConditionEvent(javaClass, registered, message));
            }
        };
    }
}

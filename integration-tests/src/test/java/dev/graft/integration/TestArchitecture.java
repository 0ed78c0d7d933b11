package dev.graft.integration;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import ai.djl.ndarray.NDArray;
import com.tngtech.archunit.core.domain.JavaAnnotation;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaModifier;
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

/**
 * The dependency rules of DESIGN.md, over the main classes of every module on this module's class path
 * (spi, tck, runtime, plugins).
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
            .because("a plugin's class loader sees only the JDK, the SPI and DJL")
            .allowEmptyShould(true);

    @ArchTest
    static final ArchRule PLUGINS_DO_NOT_DEPEND_ON_EACH_OTHER = slices()
            .matching("dev.graft.plugin.(*)..")
            .should().notDependOnEachOther()
            .because("every plugin has its own class loader; removing one must not break another")
            .allowEmptyShould(true);

    @ArchTest
    static final ArchRule RUNTIME_NAMES_NO_METHOD = noClasses()
            .that().resideInAPackage("dev.graft.runtime..")
            .should().dependOnClassesThat().resideInAnyPackage("dev.graft.plugin..", "dev.graft.tck..")
            .because("the runtime knows methods only through the SPI");

    @ArchTest
    static final ArchRule MODEL_CODE_MULTIPLIES_BY_CONSTANTS_THROUGH_SCALARS = noClasses()
            .that().resideInAnyPackage("dev.graft.runtime.model..", "dev.graft.runtime.site..", "dev.graft.runtime.task..", "dev.graft.plugin..")
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
            .because("providers are registered by the AutoService processor, never by a hand-written services file")
            .allowEmptyShould(true);

    private TestArchitecture() {}

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

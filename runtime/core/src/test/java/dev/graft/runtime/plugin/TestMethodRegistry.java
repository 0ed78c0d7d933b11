package dev.graft.runtime.plugin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;

import org.junit.jupiter.api.Test;

final class TestMethodRegistry {
    private static final LoadedMethod LORA = FakeMethod.of("lora", "LORA").loadedFrom("/plugins/lora");
    private static final LoadedMethod PLORA = FakeMethod.of("plora", "LORA").loadedFrom("/plugins/plora");
    private static final LoadedMethod IA3 = FakeMethod.of("ia3", "IA3").loadedFrom(LoadedMethod.CLASSPATH);

    @Test
    void testLookupById() {
        MethodRegistry registry = new MethodRegistry(List.of(LORA, IA3), List.of());

        assertThat(registry.ids()).containsExactly("lora", "ia3");
        assertThat(registry.method("ia3")).contains(IA3);
        assertThat(registry.method("vera")).isEmpty();
        assertThat(registry.requireMethod("lora")).isSameAs(LORA);
    }

    @Test
    void testRequireUnknownMethodNamesLoadedOnes() {
        MethodRegistry registry = new MethodRegistry(List.of(LORA, IA3), List.of());

        assertThatThrownBy(() -> registry.requireMethod("lroa"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("Unknown PEFT method 'lroa'. Loaded methods: lora, ia3. Check the spelling, or put the method's plugin into a plugin directory (see 'graft methods').");
        assertThatThrownBy(() -> new MethodRegistry(List.of(), List.of()).requireMethod("lora"))
                .hasMessageContaining("Loaded methods: none.");
    }

    @Test
    void testLookupByPeftTypeKeepsLoadOrder() {
        MethodRegistry registry = new MethodRegistry(List.of(IA3, LORA, PLORA), List.of());

        assertThat(registry.methodsForPeftType("LORA")).containsExactly(LORA, PLORA);
        assertThat(registry.methodsForPeftType("IA3")).containsExactly(IA3);
        assertThat(registry.methodsForPeftType("VERA")).isEmpty();
    }

    @Test
    void testOneMethodPerPeftTypePrefersTheMatchingId() {
        assertThat(new MethodRegistry(List.of(PLORA, LORA), List.of()).methodForPeftType("LORA")).contains(LORA);
        assertThat(new MethodRegistry(List.of(IA3, PLORA), List.of()).methodForPeftType("LORA")).contains(PLORA);
        assertThat(new MethodRegistry(List.of(IA3), List.of()).methodForPeftType("VERA")).isEmpty();
    }

    @Test
    void testDuplicateIdsAreRejected() {
        LoadedMethod otherLora = FakeMethod.of("lora", "LORA").loadedFrom("/elsewhere/lora.jar");

        assertThatThrownBy(() -> new MethodRegistry(List.of(LORA, otherLora), List.of()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("method id 'lora' is loaded twice: from /plugins/lora and from /elsewhere/lora.jar");
    }

    @Test
    void testProblemsMustBeOneLine() {
        assertThatThrownBy(() -> new PluginProblem("/plugins/x.jar", "first line\nsecond line"))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(new PluginProblem("/plugins/x.jar", "one line")).hasToString("one line");
    }
}

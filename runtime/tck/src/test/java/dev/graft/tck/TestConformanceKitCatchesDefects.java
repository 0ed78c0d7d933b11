package dev.graft.tck;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.graft.spi.PeftMethod;

import org.junit.jupiter.api.Test;

/** The kit fails a method whose declared parameter count is wrong: its checks can fail. */
final class TestConformanceKitCatchesDefects {
    @Test
    void testWrongParameterFormulaFails() {
        MethodConformanceTest kit = new MethodConformanceTest() {
            @Override
            protected PeftMethod method() {
                return new RankOneMethod(1);
            }
        };
        kit.openManager();
        try {
            assertThatThrownBy(kit::testTrainableParameterCountMatchesFormula)
                    .isInstanceOf(AssertionError.class)
                    .hasMessageContaining("trainable parameters counted on the model vs the method's formula");
        }
        finally {
            kit.closeManager();
        }
    }
}

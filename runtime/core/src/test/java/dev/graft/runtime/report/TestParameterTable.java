package dev.graft.runtime.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;

import org.junit.jupiter.api.Test;

final class TestParameterTable {
    private static final String PEFT_LINE = "trainable params: 181,268 || all params: 22,894,604 || trainable%: 0.7917";

    @Test
    void testAdaptersThenGatesThenHeadsThenPeftLine() {
        List<ParameterRow> rows = List.of(
                new ParameterRow("classifier", "head", "trained in full", 1, 770),
                new ParameterRow("lowrank", "lora", "gated", 12, 73_728),
                new ParameterRow("bottleneck", "adapter", "gated", 6, 99_840));

        assertThat(ParameterTable.render(rows, 18, 6_930, PEFT_LINE)).containsExactly(
                "ADAPTER     METHOD   COMPOSITION      SITES  PARAMETERS",
                "lowrank     lora     gated               12      73,728",
                "bottleneck  adapter  gated                6      99,840",
                "gates       runtime  -                   18       6,930",
                "classifier  head     trained in full      1         770",
                "",
                PEFT_LINE);
    }

    @Test
    void testNoGateRowWithoutGatesAndMillionsGetCommas() {
        List<ParameterRow> rows = List.of(new ParameterRow("default", "lora", "sum", 144, 1_234_567));

        assertThat(ParameterTable.render(rows, 0, 0, "trainable params: 1,234,567 || all params: 110,000,000 || trainable%: 1.1223")).containsExactly(
                "ADAPTER  METHOD  COMPOSITION  SITES  PARAMETERS",
                "default  lora    sum            144   1,234,567",
                "",
                "trainable params: 1,234,567 || all params: 110,000,000 || trainable%: 1.1223");
    }

    @Test
    void testNegativeParameterCountIsRejected() {
        assertThatThrownBy(() -> new ParameterRow("lowrank", "lora", "sum", 12, -1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("Adapter lowrank has -1 parameters; a parameter count is 0 or more");
    }
}

package dev.graft.runtime.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Set;

import org.junit.jupiter.api.Test;

final class TestTextTable {
    @Test
    void testColumnsAreLeftAlignedWithTwoSpaces() {
        assertThat(TextTable.render(List.of("NAME", "KIND", "NOTE"), List.of(
                List.of("lowrank", "lora", "query, value"),
                List.of("ia", "ia3", "keys"))))
                .containsExactly(
                        "NAME     KIND  NOTE",
                        "lowrank  lora  query, value",
                        "ia       ia3   keys");
    }

    @Test
    void testRightAlignedColumnsPadOnTheLeftHeaderIncluded() {
        assertThat(TextTable.render(List.of("NAME", "PARAMETERS", "SHARE"), List.of(
                List.of("lowrank", "73,728", "0.32%"),
                List.of("head", "770", "0.00%")), Set.of(1, 2)))
                .containsExactly(
                        "NAME     PARAMETERS  SHARE",
                        "lowrank      73,728  0.32%",
                        "head            770  0.00%");
    }

    @Test
    void testNoTrailingBlanksWhenTheLastCellIsShortOrEmpty() {
        assertThat(TextTable.render(List.of("A", "LONG HEADER"), List.of(List.of("x", ""), List.of("yyy", "z"))))
                .containsExactly(
                        "A    LONG HEADER",
                        "x",
                        "yyy  z");
    }

    @Test
    void testNoRowsGivesTheHeaderOnly() {
        assertThat(TextTable.render(List.of("ID", "VERSION"), List.of())).containsExactly("ID  VERSION");
    }

    @Test
    void testRowWithTheWrongNumberOfCellsIsRejected() {
        assertThatThrownBy(() -> TextTable.render(List.of("A", "B"), List.of(List.of("1", "2"), List.of("3"))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("Row 2 has 1 cells but the header has 2 columns: [3]; give every row one cell per column");
    }

    @Test
    void testRightAlignedColumnOutsideTheTableIsRejected() {
        assertThatThrownBy(() -> TextTable.render(List.of("A", "B"), List.of(), Set.of(2)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("Right-aligned column 2 does not exist: the table has columns 0 to 1");
    }
}

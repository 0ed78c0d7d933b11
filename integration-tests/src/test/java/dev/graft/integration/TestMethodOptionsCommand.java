package dev.graft.integration;

import static dev.graft.integration.GraftCli.graft;
import static org.assertj.core.api.Assertions.assertThat;

import dev.graft.integration.GraftCli.Result;

import java.util.List;

import org.junit.jupiter.api.Test;

/** {@code graft methods ID} on the distribution's plugins: one method's options, types, defaults and descriptions. */
final class TestMethodOptionsCommand {

    @Test
    void testMethodsWithAnIdListsItsOptionsAndDefaults() {
        Result result = graft("methods", "lora");

        assertThat(result.exitCode()).as(result.err()).isZero();
        List<String> lines = result.out().lines().toList();
        assertThat(lines.get(0)).startsWith("lora 0.1.0 (peft_type LORA, SPI ");
        assertThat(lines.get(1)).startsWith("attaches to: linear; merges into the base weights: yes; loaded from ");
        assertThat(lines).contains("default target_modules: bert query, value; llama q_proj, v_proj; roberta query, value");
        assertThat(lines).anySatisfy(line -> assertThat(line).matches("OPTION +TYPE +DEFAULT +DESCRIPTION"));
        assertThat(lines).anySatisfy(line -> assertThat(line).matches("r +integer >= 1 +8 +The rank r of lora_A.*"));
        assertThat(lines).anySatisfy(line -> assertThat(line).matches("init_lora_weights +true\\|false\\|\"gaussian\"\\|\"pissa\"\\|\"pissa_niter_\\{n\\}\"\\|\"olora\"\\|\"eva\" +true +.*"));
        assertThat(lines).anySatisfy(line -> assertThat(line).matches("lora_dropout +number in \\[0, 1\\) +0\\.0 +.*"));
        assertThat(lines).anySatisfy(line -> assertThat(line).startsWith("lora_bias "));
    }

    @Test
    void testMethodsMissListsPeftsMissConfigFields() {
        Result result = graft("methods", "miss");

        assertThat(result.exitCode()).as(result.err()).isZero();
        List<String> lines = result.out().lines().toList();
        assertThat(lines.get(0)).startsWith("miss 0.1.0 (peft_type MISS, SPI ");
        assertThat(lines.get(1)).startsWith("attaches to: linear; merges into the base weights: yes; loaded from ");
        assertThat(lines).contains("default target_modules: bert query, value; llama q_proj, v_proj; roberta query, value");
        assertThat(lines).anySatisfy(line -> assertThat(line).matches("OPTION +TYPE +DEFAULT +DESCRIPTION"));
        assertThat(lines).anySatisfy(line -> assertThat(line).matches("r +integer >= 1 +64 +block size r along the input features.*"));
        assertThat(lines).anySatisfy(line -> assertThat(line).matches("miss_dropout +number in \\[0, 1\\) +0\\.0 +.*"));
        assertThat(lines).anySatisfy(line -> assertThat(line).matches("mini_r +integer >= 1 +1 +with init_weights \"mini\".*"));
        assertThat(lines).anySatisfy(line -> assertThat(line).matches("init_weights +true\\|false\\|\"bat\"\\|\"mini\" +true +.*"));
        assertThat(lines).anySatisfy(line -> assertThat(line).startsWith("bias "));
    }

    @Test
    void testAnUnknownIdIsBadInputWithTheNearestId() {
        Result result = graft("methods", "lroa");

        assertThat(result.exitCode()).isEqualTo(2);
        assertThat(result.err()).startsWith("graft methods: no method 'lroa' is loaded (did you mean 'lora'?); loaded: ").hasLineCount(1);
    }
}

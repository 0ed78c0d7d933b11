package dev.graft.runtime.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.graft.runtime.plugin.FakeMethod;
import dev.graft.runtime.plugin.LoadedMethod;
import dev.graft.spi.MethodDescriptor;
import dev.graft.spi.OptionSchema;
import dev.graft.spi.SiteKind;

import java.util.EnumSet;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

final class TestMethodTable {
    @Test
    void testColumnsAreAlignedAndSortedById() {
        LoadedMethod prefix = new FakeMethod(new MethodDescriptor(
                "prefix", "0.3.0", "2.0", "PREFIX_TUNING", EnumSet.of(SiteKind.EMBEDDING, SiteKind.ATTENTION), dev.graft.spi.PrefixModule.class, OptionSchema.of(), Map.of(), "prefix tuning"))
                .loadedFrom("/opt/graft/plugins/prefix");
        LoadedMethod lora = FakeMethod.of("lora", "LORA").loadedFrom(LoadedMethod.CLASSPATH);

        assertThat(MethodTable.render(List.of(prefix, lora))).containsExactly(
                "ID      VERSION  SPI  SITE KINDS           MERGEABLE  LOADED FROM",
                "lora    1.0.0    2.2  linear               yes        classpath",
                "prefix  0.3.0    2.0  attention,embedding  no         /opt/graft/plugins/prefix");
    }

    @Test
    void testNoMethodsGivesTheHeaderOnly() {
        assertThat(MethodTable.render(List.of())).containsExactly("ID  VERSION  SPI  SITE KINDS  MERGEABLE  LOADED FROM");
    }
}

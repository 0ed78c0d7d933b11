package dev.graft.runtime.cli;

import static java.lang.String.format;

import dev.graft.spi.SpiVersion;

import java.util.Optional;

import picocli.CommandLine.IVersionProvider;

/** {@code graft --version}: the runtime's version (from its jar manifest, when present) and its SPI version. */
final class GraftVersion implements IVersionProvider {
    @Override
    public String[] getVersion() {
        String version = Optional.ofNullable(GraftVersion.class.getPackage().getImplementationVersion()).orElse("(development build)");
        return new String[] {format("graft %s, SPI %s", version, SpiVersion.CURRENT)};
    }
}

package dev.graft.spi;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;

/**
 * The SPI versioning rule's other half (japicmp checks compatibility against the baseline in {@code verify}): the
 * baseline jar in {@code spi/api/} is the first release of the current major version, so that a change japicmp
 * refuses cannot be waved through by a minor bump, and a new major cannot keep comparing against the old one.
 */
final class TestSpiBaseline {
    @Test
    void testTheBaselineIsTheFirstReleaseOfTheCurrentMajorVersion() throws Exception {
        Path baseline = Path.of(System.getProperty("graft.spi.baseline.jar", "api/graft-spi-2.0.jar"));
        assertThat(baseline).as("the released SPI japicmp compares against").exists();

        String baselineVersion;
        try (URLClassLoader loader = new URLClassLoader(new URL[] {baseline.toUri().toURL()}, ClassLoader.getPlatformClassLoader())) {
            baselineVersion = (String) loader.loadClass(SpiVersion.class.getName()).getField("CURRENT").get(null);
        }
        int[] current = SpiVersion.parse(SpiVersion.CURRENT);
        assertThat(baselineVersion).as("the baseline's SpiVersion.CURRENT").isEqualTo(current[0] + ".0");
        assertThat(baseline.getFileName().toString()).isEqualTo("graft-spi-" + baselineVersion + ".jar");
        try (java.util.stream.Stream<Path> files = Files.list(baseline.getParent())) {
            assertThat(files.map(path -> path.getFileName().toString())).as("one baseline, no stale ones").containsExactly(baseline.getFileName().toString());
        }
    }
}

package dev.graft.runtime.plugin;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URL;
import java.net.URLClassLoader;

import org.junit.jupiter.api.Test;

final class TestThreadContextClassLoader {
    @Test
    void testSetsTheLoaderAndRestoresThePreviousOne() throws Exception {
        ClassLoader original = Thread.currentThread().getContextClassLoader();
        try (URLClassLoader plugin = new URLClassLoader(new URL[0], null)) {
            try (ThreadContextClassLoader ignored = new ThreadContextClassLoader(plugin)) {
                assertThat(Thread.currentThread().getContextClassLoader()).isSameAs(plugin);
            }
            assertThat(Thread.currentThread().getContextClassLoader()).isSameAs(original);
        }
    }

    @Test
    void testRestoresAfterAnException() throws Exception {
        ClassLoader original = Thread.currentThread().getContextClassLoader();
        try (URLClassLoader plugin = new URLClassLoader(new URL[0], null)) {
            try (ThreadContextClassLoader ignored = new ThreadContextClassLoader(plugin)) {
                throw new IllegalStateException("plugin code failed");
            }
            catch (IllegalStateException expected) {
                assertThat(Thread.currentThread().getContextClassLoader()).isSameAs(original);
            }
        }
    }
}

package dev.graft.runtime.inject;

import static java.util.Objects.requireNonNull;

import com.google.inject.AbstractModule;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import dev.graft.runtime.plugin.MethodRegistry;
import dev.graft.runtime.plugin.MethodRegistryLoader;
import dev.graft.runtime.plugin.PluginConfiguration;

/**
 * Wires the Graft runtime. Binds the {@link PluginConfiguration} it is given and the {@link MethodRegistry}
 * loaded from it, once per injector and only when something asks for it.
 *
 * <p>Build one injector per process: {@code Guice.createInjector(new GraftModule(configuration))}. Other runtime
 * areas add their bindings here (or in a module installed from here), constructor injection only.
 */
public final class GraftModule extends AbstractModule {
    private final PluginConfiguration pluginConfiguration;

    /** A module whose registry loads the class path and the directories of {@code pluginConfiguration}. */
    public GraftModule(PluginConfiguration pluginConfiguration) {
        this.pluginConfiguration = requireNonNull(pluginConfiguration, "pluginConfiguration is null");
    }

    @Override
    protected void configure() {
        bind(PluginConfiguration.class).toInstance(pluginConfiguration);
    }

    @Provides
    @Singleton
    static MethodRegistry methodRegistry(PluginConfiguration configuration) {
        return MethodRegistryLoader.load(configuration);
    }
}

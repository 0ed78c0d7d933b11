package dev.graft.runtime.peft;

import static java.util.Objects.requireNonNull;

import ai.djl.nn.Parameter;
import dev.graft.runtime.compose.Attachment;
import dev.graft.runtime.compose.Composition;
import dev.graft.spi.MethodDescriptor;
import dev.graft.spi.MethodInstance;
import dev.graft.spi.MethodOptions;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.Site;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** One named adapter on a {@link PeftModel}: its method, options, sites and attachments. */
public final class Adapter {
    private final String name;
    private final AdapterSpec spec;
    private final PeftMethod method;
    private final MethodDescriptor descriptor;
    private final MethodOptions options;
    private final MethodInstance instance;
    private final Composition composition;
    private final Map<Site, Attachment> attachments;
    private final List<Parameter> trainableSharedParameters;
    private final ModulesToSave modulesToSave;
    private boolean trainable = true;

    Adapter(AdapterSpec spec, PeftMethod method, MethodDescriptor descriptor, MethodOptions options, MethodInstance instance, Composition composition,
            Map<Site, Attachment> attachments, List<Parameter> trainableSharedParameters, ModulesToSave modulesToSave) {
        this.spec = requireNonNull(spec, "spec is null");
        this.method = requireNonNull(method, "method is null");
        this.name = spec.name();
        this.descriptor = requireNonNull(descriptor, "descriptor is null");
        this.options = requireNonNull(options, "options is null");
        this.instance = requireNonNull(instance, "instance is null");
        this.composition = requireNonNull(composition, "composition is null");
        this.attachments = Collections.unmodifiableMap(new LinkedHashMap<>(attachments));
        this.trainableSharedParameters = List.copyOf(trainableSharedParameters);
        this.modulesToSave = requireNonNull(modulesToSave, "modulesToSave is null");
    }

    public String name() {
        return name;
    }

    /** What this adapter was attached with: options as given, targeting rules, composition, extra fields. */
    public AdapterSpec spec() {
        return spec;
    }

    /** The method this adapter is an instance of. */
    public PeftMethod method() {
        return method;
    }

    public MethodDescriptor descriptor() {
        return descriptor;
    }

    public MethodOptions options() {
        return options;
    }

    public MethodInstance instance() {
        return instance;
    }

    public Composition composition() {
        return composition;
    }

    /** The sites this adapter is attached to, in model order. */
    public List<Site> sites() {
        return List.copyOf(attachments.keySet());
    }

    /** The attachment at each site. */
    public Map<Site, Attachment> attachments() {
        return attachments;
    }

    public boolean isTrainable() {
        return trainable;
    }

    /**
     * The trainable copies of this adapter's {@code modules_to_save}, by the Hugging Face key of the base tensor each
     * stands in for ({@code pooler.dense.weight}); empty for none. Save and load them through these parameters.
     */
    public Map<String, Parameter> moduleCopies() {
        return modulesToSave.copies();
    }

    ModulesToSave modulesToSave() {
        return modulesToSave;
    }

    /**
     * Every parameter this adapter trains when trainable: module parameters, gates, trainable shared parameters, and
     * the copies of its {@code modules_to_save}.
     */
    public List<Parameter> trainableParameters() {
        List<Parameter> parameters = new ArrayList<>(trainableSharedParameters);
        parameters.addAll(modulesToSave.copies().values());
        for (Attachment attachment : attachments.values()) {
            attachment.module().getParameters().values().forEach(parameters::add);
            attachment.gate().ifPresent(gate -> gate.getParameters().values().forEach(parameters::add));
        }
        return parameters;
    }

    void setTrainable(boolean trainable) {
        for (Parameter parameter : trainableParameters()) {
            parameter.freeze(!trainable);
        }
        this.trainable = trainable;
    }

    /** Whether any of this adapter's attachments is active. */
    public boolean isActive() {
        return attachments.values().stream().anyMatch(Attachment::isActive);
    }

    /** Whether this adapter is merged into the base weights. */
    public boolean isMerged() {
        return attachments.values().stream().anyMatch(Attachment::isMerged);
    }
}

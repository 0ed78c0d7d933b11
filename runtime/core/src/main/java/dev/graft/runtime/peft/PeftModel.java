package dev.graft.runtime.peft;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import ai.djl.util.PairList;
import dev.graft.runtime.compose.Attachment;
import dev.graft.runtime.compose.Average;
import dev.graft.runtime.compose.CompositionBlock;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.compose.Fuse;
import dev.graft.runtime.compose.FusionLayer;
import dev.graft.runtime.compose.Gate;
import dev.graft.runtime.compose.GateReading;
import dev.graft.runtime.compose.LinearSiteBlock;
import dev.graft.runtime.compose.Parallel;
import dev.graft.runtime.compose.RowRouting;
import dev.graft.runtime.compose.Stack;
import dev.graft.runtime.model.TransformerModel;
import dev.graft.runtime.plugin.ThreadContextClassLoader;
import dev.graft.runtime.targeting.TargetSelector;
import dev.graft.spi.AttentionSite;
import dev.graft.spi.BaseDerivedLinearModule;
import dev.graft.spi.EmbeddingSite;
import dev.graft.spi.LinearSite;
import dev.graft.spi.LinearWeights;
import dev.graft.spi.MethodDescriptor;
import dev.graft.spi.MethodInstance;
import dev.graft.spi.MethodModule;
import dev.graft.spi.MethodOptions;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.Site;
import dev.graft.spi.SiteKind;
import dev.graft.spi.SublayerSite;
import dev.graft.spi.TrainingContext;
import dev.graft.spi.TrainingEvent;
import dev.graft.spi.WeightTransformModule;

import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import java.util.regex.Pattern;

/**
 * A base model with adapters: the DJL block that training and inference run. The base is frozen; adapter and
 * gate parameters are trainable. Adapters are added by name, activated and deactivated (activation is separate
 * from trainability), merged into the base weights and unmerged, and deleted.
 *
 * <p>Thread safety: one model may be shared by many threads for inference. Forward passes run one at a time (a
 * lock): to free every temporary, a pass temporarily moves the weights it reads into the caller's scope (DJL puts
 * an op's result in its first operand's manager), so two passes at once would move the same weights into two
 * scopes. Each pass uses PyTorch's intra-op threads, so callers get the machine's cores without running passes in
 * parallel. A per-row {@linkplain #route routing} and the token mask belong to the thread that entered them; give
 * each caller its own {@link ai.djl.training.ParameterStore} over its own sub-manager. Every caller gets the output
 * a single-threaded run gives, and nothing stays behind in the model's manager (tested with 8 threads and 4,000
 * requests). Everything that changes the model must not overlap a forward pass: adding, deleting, activating or
 * merging adapters, {@link #setActiveBlock}, {@link #setTrainable}, loading weights, and training (one trainer per
 * JVM). Under concurrent passes, {@linkplain #setGateRecording recorded} gate values are those of the last pass.
 */
public final class PeftModel extends AbstractBlock {
    private static final byte VERSION = 1;
    private static final Pattern ADAPTER_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]*");
    private static final Set<String> RESERVED_NAMES = Set.of("base_model", "model", "weight", "bias");
    /** The sub-folder beside the adapters of a multi-adapter folder that holds fusions ({@code FusionStore}); no adapter may take its name. */
    public static final String FUSION_FOLDER = "fusion";

    private final TransformerModel base;
    private final AdapterBlocks adapterBlocks;
    private final Map<String, Adapter> adapters = new LinkedHashMap<>();
    private final Map<String, Fusion> fusions = new LinkedHashMap<>();
    private final ReentrantLock forwardLock = new ReentrantLock();
    private boolean gateRecording;
    private CompositionBlock activeBlock;

    public PeftModel(TransformerModel base) {
        super(VERSION);
        this.base = addChildBlock("base", requireNonNull(base, "base is null"));
        this.adapterBlocks = addChildBlock("adapters", new AdapterBlocks());
        base.freezeParameters(true);
    }

    public TransformerModel base() {
        return base;
    }

    /** The adapters, in the order they were added. */
    public Map<String, Adapter> adapters() {
        return Collections.unmodifiableMap(adapters);
    }

    /** The adapter named {@code name}. */
    public Adapter adapter(String name) {
        Adapter adapter = adapters.get(name);
        if (adapter == null) {
            throw new IllegalArgumentException(format("no adapter named '%s'; adapters: %s", name, adapters.keySet()));
        }
        return adapter;
    }

    /**
     * Adds an adapter of {@code method}, active and trainable; an {@linkplain #setActiveBlock active block} is
     * cleared, so the new adapter adds to the others as attached. Options are validated before any tensor is made.
     * The steps, each a method below: {@link #validateOptions validate} the name and options, create the method
     * instance, {@link #selectSites select the sites}, {@link #initialiseModules initialise} the shared
     * parameters and one module per site, {@link #buildGates build the gates} of a gated composition, and
     * {@link #register register} the modules at their sites. Every call into the plugin runs with the plugin's
     * class loader as the thread context class loader.
     *
     * @throws IllegalArgumentException on a bad or duplicate name, bad options, or targets that match nothing
     */
    public Adapter addAdapter(AdapterSpec spec, PeftMethod method) {
        requireNonNull(spec, "spec is null");
        requireNonNull(method, "method is null");
        ClassLoader pluginClassLoader = ThreadContextClassLoader.classLoaderOf(method);
        try (ThreadContextClassLoader ignored = new ThreadContextClassLoader(pluginClassLoader)) {
            MethodDescriptor descriptor = method.descriptor();
            MethodOptions options = validateOptions(spec, descriptor);
            MethodInstance instance = method.create(options, base.context());
            List<Site> sites = selectSites(spec, descriptor, instance);
            InitialisedModules modules = initialiseModules(descriptor, instance, sites);
            Map<Site, Gate> gates = buildGates(spec.composition(), sites);
            ModulesToSave modulesToSave = copyModules(spec, descriptor, sites);
            return register(new Adapter(spec, method, descriptor, options, instance, spec.composition(),
                    attachments(spec, descriptor, instance, modules, gates, pluginClassLoader), modules.trainableShared(), modulesToSave));
        }
    }

    /** Step 1: the adapter's name is free and valid, and its options are valid for the method. */
    private MethodOptions validateOptions(AdapterSpec spec, MethodDescriptor descriptor) {
        checkName(spec.name(), descriptor);
        return descriptor.options().validate(descriptor.id(), spec.options());
    }

    /** The modules made for an adapter's sites, and its shared parameters that train. */
    private record InitialisedModules(Map<Site, MethodModule> modules, List<Parameter> trainableShared) {}

    /**
     * Step 3: lets the instance prepare for its sites, initialises its shared parameters and asks it for one module
     * per site, each initialised in float32 (a weight transform then sees the base weights once, for DoRA's
     * magnitude).
     */
    private InitialisedModules initialiseModules(MethodDescriptor descriptor, MethodInstance instance, List<Site> sites) {
        instance.prepare(sites);
        List<Parameter> trainableShared = new ArrayList<>();
        for (Map.Entry<String, Parameter> entry : instance.sharedParameters().entrySet()) {
            Parameter parameter = entry.getValue();
            parameter.initialize(base.manager(), DataType.FLOAT32);
            if (parameter.requiresGradient()) {
                trainableShared.add(parameter);
            }
        }
        Map<Site, MethodModule> modules = new LinkedHashMap<>();
        for (Site site : sites) {
            MethodModule module = instance.attach(site);
            if (!module.site().equals(site)) {
                throw new IllegalStateException(format("method '%s' returned a module for %s when asked for %s", descriptor.id(), module.site().name(), site.name()));
            }
            module.initialize(base.manager(), DataType.FLOAT32, exampleInput(site));
            if (module instanceof WeightTransformModule && site instanceof LinearSite) {
                base.linearSite(site.name()).initializeFromBase((WeightTransformModule) module);
            }
            if (module instanceof BaseDerivedLinearModule && ((BaseDerivedLinearModule) module).derivesFromBase()) {
                initializeFromBase(descriptor, (BaseDerivedLinearModule) module, site);
            }
            modules.put(site, module);
        }
        return new InitialisedModules(modules, trainableShared);
    }

    /**
     * Hands a module whose start derives from the base weight float32 copies of its site's current weights, in a
     * scope closed afterwards (see {@link BaseDerivedLinearModule}); the base itself is left as it is.
     */
    private void initializeFromBase(MethodDescriptor descriptor, BaseDerivedLinearModule module, Site site) {
        if (!(site instanceof LinearSite)) {
            throw new IllegalStateException(format("method '%s' returned a module derived from a base weight for %s site %s, which has no weight",
                    descriptor.id(), site.kind(), site.name()));
        }
        LinearWeights weights = base.linearSite(site.name()).weights();
        try (NDManager scope = base.manager().newSubManager()) {
            scope.tempAttachAll(weights.weight());
            NDArray bias = null;
            if (weights.hasBias()) {
                scope.tempAttachAll(weights.bias());
                bias = weights.bias().toType(DataType.FLOAT32, true);
            }
            module.initializeFromBase(new LinearWeights(weights.weight().toType(DataType.FLOAT32, true), bias));
        }
    }

    /**
     * Step 4b: a trainable copy of each module in the spec's {@code modules_to_save} (PEFT's
     * {@code ModulesToSaveWrapper}); a module the adapter also attaches to is refused, as its copy would hide the
     * attachment's base weight.
     */
    private ModulesToSave copyModules(AdapterSpec spec, MethodDescriptor descriptor, List<Site> sites) {
        for (String module : spec.modulesToSave()) {
            for (Site site : sites) {
                if (site.name().equals(module)) {
                    throw new IllegalArgumentException(format(
                            "adapter '%s' (method %s) both targets %s and lists it in modules_to_save; a module is either adapted or trained in full: "
                                    + "remove it from target_modules or from modules_to_save", spec.name(), descriptor.id(), module));
                }
            }
        }
        if (spec.modulesToSave().size() != Set.copyOf(spec.modulesToSave()).size()) {
            throw new IllegalArgumentException(format("adapter '%s': modules_to_save %s names a module twice", spec.name(), spec.modulesToSave()));
        }
        return ModulesToSave.copy(base, spec.modulesToSave());
    }

    /** Step 4: one runtime-owned gate per site under gated composition; none under sum. */
    private Map<Site, Gate> buildGates(Composition composition, List<Site> sites) {
        Map<Site, Gate> gates = new LinkedHashMap<>();
        if (composition == Composition.GATED) {
            for (Site site : sites) {
                Gate gate = new Gate(gateWidth(site));
                gate.setRecording(gateRecording);
                gate.initialize(base.manager(), DataType.FLOAT32, exampleInput(site));
                gates.put(site, gate);
            }
        }
        return gates;
    }

    private static Map<Site, Attachment> attachments(AdapterSpec spec, MethodDescriptor descriptor, MethodInstance instance, InitialisedModules modules,
            Map<Site, Gate> gates, ClassLoader pluginClassLoader) {
        List<Parameter> sharedParameters = List.copyOf(instance.sharedParameters().values());
        Map<Site, Attachment> attachments = new LinkedHashMap<>();
        for (Map.Entry<Site, MethodModule> entry : modules.modules().entrySet()) {
            attachments.put(entry.getKey(), new Attachment(spec.name(), descriptor.id(), entry.getValue(), gates.get(entry.getKey()), sharedParameters, pluginClassLoader));
        }
        return attachments;
    }

    /**
     * Step 5: attaches the modules at their sites, adds them, their gates and the shared parameters to the block
     * tree, and makes the adapter known, active and trainable.
     */
    private Adapter register(Adapter adapter) {
        clearBlock();
        String name = adapter.name();
        for (Map.Entry<Site, Attachment> entry : adapter.attachments().entrySet()) {
            base.attachments(entry.getKey()).add(entry.getValue());
            String blockName = name + "/" + entry.getKey().kind() + "/" + entry.getKey().name();
            adapterBlocks.add(blockName, entry.getValue().module());
            entry.getValue().gate().ifPresent(gate -> adapterBlocks.add(blockName + "/gate", gate));
        }
        Map<String, Parameter> shared = adapter.instance().sharedParameters();
        if (!shared.isEmpty()) {
            adapterBlocks.add(name + "/shared", new SharedParameters(shared));
        }
        if (!adapter.moduleCopies().isEmpty()) {
            adapterBlocks.add(name + "/modules_to_save", adapter.modulesToSave());
        }
        adapters.put(name, adapter);
        adapter.setTrainable(true);
        return adapter;
    }

    private void checkName(String name, MethodDescriptor descriptor) {
        if (!ADAPTER_NAME.matcher(name).matches()) {
            throw new IllegalArgumentException(format("adapter name '%s' is invalid: use letters, digits, '_' and '-', starting with a letter or digit", name));
        }
        if (adapters.containsKey(name)) {
            throw new IllegalArgumentException(format("an adapter named '%s' already exists; delete it first or choose another name", name));
        }
        if (FUSION_FOLDER.equals(name)) {
            throw new IllegalArgumentException(format(
                    "adapter name '%s' is reserved: a multi-adapter folder keeps its AdapterFusion layers in a sub-folder of that name; choose another name", name));
        }
        if (RESERVED_NAMES.contains(name) || name.equals(descriptor.id()) || name.startsWith(descriptor.id() + "_")) {
            throw new IllegalArgumentException(format(
                    "adapter name '%s' collides with checkpoint key prefixes of method '%s' (PEFT key names contain '%s_' and %s); choose another name",
                    name, descriptor.id(), descriptor.id(), RESERVED_NAMES));
        }
    }

    /** Step 2: the sites the adapter's targets select (PEFT's rules for linear sites) and the instance accepts. */
    private List<Site> selectSites(AdapterSpec spec, MethodDescriptor descriptor, MethodInstance instance) {
        List<Site> selected = new ArrayList<>();
        List<LinearSite> chosenLinear = List.of();
        if (descriptor.siteKinds().contains(SiteKind.LINEAR)) {
            List<LinearSite> linear = new ArrayList<>();
            for (Site site : base.sites()) {
                if (site instanceof LinearSite) {
                    linear.add((LinearSite) site);
                }
            }
            chosenLinear = TargetSelector.select(spec.targets(), linear, base.outputLayerNames(),
                    descriptor.defaultTargets().getOrDefault(base.modelType(), List.of()));
        }
        for (Site site : base.sites()) {
            boolean wanted = site instanceof LinearSite ? chosenLinear.contains(site) : descriptor.siteKinds().contains(site.kind());
            if (wanted && instance.accepts(site)) {
                selected.add(site);
            }
        }
        if (selected.isEmpty()) {
            throw new IllegalArgumentException(format("adapter '%s' (method %s) attaches to no site of this %s model: check target_modules and the method's options",
                    spec.name(), descriptor.id(), base.modelType()));
        }
        return selected;
    }

    private Shape exampleInput(Site site) {
        if (site instanceof LinearSite) {
            return new Shape(1, ((LinearSite) site).inFeatures());
        }
        return new Shape(1, 1, gateWidth(site));
    }

    /**
     * The width of what a gate at {@code site} reads: a linear site's input, a sublayer's or the embeddings' hidden
     * states, and for an attention site the attention layer's input, which is the model's hidden size (not
     * {@code heads·headDim}: the two differ where a model sets {@code head_dim} explicitly).
     */
    private int gateWidth(Site site) {
        if (site instanceof LinearSite) {
            return ((LinearSite) site).inFeatures();
        }
        if (site instanceof SublayerSite) {
            return ((SublayerSite) site).hiddenSize();
        }
        if (site instanceof AttentionSite) {
            return base.context().hiddenSize();
        }
        return ((EmbeddingSite) site).hiddenSize();
    }

    /**
     * Activates exactly the named adapters, composed as each was attached (sum or gated); every other adapter is
     * deactivated (not deleted, not frozen). Clears the {@linkplain #setActiveBlock active block}.
     */
    public void setActiveAdapters(List<String> names) {
        for (String name : names) {
            adapter(name);
        }
        clearBlock();
        for (Adapter adapter : adapters.values()) {
            boolean active = names.contains(adapter.name());
            adapter.attachments().values().forEach(attachment -> attachment.setActive(active));
        }
    }

    /** Activates or deactivates one adapter, leaving the others as they are. Clears the {@linkplain #setActiveBlock active block}. */
    public void setActive(String name, boolean active) {
        adapter(name);
        clearBlock();
        adapter(name).attachments().values().forEach(attachment -> attachment.setActive(active));
    }

    /**
     * Makes {@code block} the way the active adapters combine, as AdapterHub's composition blocks, over adapters
     * of any methods: exactly the block's adapters are activated (the others deactivated) and combined by it.
     * <ul>
     *   <li>{@link Average}: each adapter's contribution weighted at run time (additive terms, sublayer deltas
     *       and weight deltas times {@code wᵢ}, the scales of one side as {@code 1 + Σ wᵢ(lᵢ − 1)}); no prefix or
     *       prompt adapter.</li>
     *   <li>{@link Stack}: at sublayer sites each adapter reads the previous one's output; sublayer adapters only.</li>
     *   <li>{@link Parallel}: every forward pass copies the batch once per adapter, each copy under its own adapter
     *       (the output has {@code n·batch} rows, adapter by adapter); inference only.</li>
     *   <li>{@link Fuse}: at sublayer sites the fusion's layers ({@link #addFusion}, which must come first) attend
     *       over the fused adapters' outputs; sublayer adapters only.</li>
     * </ul>
     * {@code null} clears the block and leaves its adapters active under their own composition;
     * {@link #setActiveAdapters}, {@link #setActive}, adding an adapter and deleting one of the block's clear it too. Everything is checked here, before any tensor
     * is made.
     *
     * @throws IllegalArgumentException for an unknown adapter, or an adapter the block cannot combine (with the reason)
     * @throws IllegalStateException when an adapter of the block is merged into the base weights
     */
    public void setActiveBlock(CompositionBlock block) {
        if (block == null) {
            clearBlock();
            return;
        }
        checkBlock(block);
        clearBlock();
        for (Adapter adapter : adapters.values()) {
            boolean inBlock = block.adapterNames().contains(adapter.name());
            for (Attachment attachment : adapter.attachments().values()) {
                attachment.setActive(inBlock);
                if (inBlock && block instanceof Average) {
                    attachment.setAverageWeight((float) ((Average) block).weightOf(adapter.name()));
                }
                if (inBlock && block instanceof Stack) {
                    attachment.setStackPosition(block.adapterNames().indexOf(adapter.name()));
                }
            }
        }
        if (block instanceof Fuse) {
            Fusion fusion = fusions.get(((Fuse) block).name());
            fusion.layers().forEach((site, layer) -> base.attachments(site).setFusion(layer, fusion.adapterNames()));
        }
        activeBlock = block;
    }

    /** The active composition block, if one is set. */
    public Optional<CompositionBlock> activeBlock() {
        return Optional.ofNullable(activeBlock);
    }

    private void checkBlock(CompositionBlock block) {
        if (block instanceof Fuse) {
            Fuse fuse = (Fuse) block;
            Fusion fusion = fusions.get(fuse.name());
            if (fusion == null) {
                throw new IllegalArgumentException(format("the fuse block names fusion '%s', which this model does not have (fusions: %s): add it with addFusion first",
                        fuse.name(), fusions.keySet()));
            }
            if (!fusion.adapterNames().equals(fuse.adapterNames())) {
                throw new IllegalArgumentException(format("fusion '%s' fuses adapters %s, but the fuse block names %s", fuse.name(), fusion.adapterNames(), fuse.adapterNames()));
            }
        }
        for (String name : block.adapterNames()) {
            if (!adapters.containsKey(name)) {
                throw new IllegalArgumentException(format("the %s block names adapter '%s', which this model does not have; adapters: %s", block.kind(), name, adapters.keySet()));
            }
            if (adapters.get(name).isMerged()) {
                throw new IllegalStateException(format("adapter '%s' is merged into the base weights, so a %s block cannot combine it at run time: unmerge it first",
                        name, block.kind()));
            }
        }
        if (block instanceof Stack) {
            Set<SiteKind> modelKinds = EnumSet.noneOf(SiteKind.class);
            base.sites().forEach(site -> modelKinds.add(site.kind()));
            if (!modelKinds.contains(SiteKind.SUBLAYER)) {
                throw new IllegalArgumentException(format("a stack block runs at sublayer sites, and this %s model has none (its site kinds: %s)", base.modelType(), modelKinds));
            }
        }
        for (String name : block.adapterNames()) {
            Adapter adapter = adapters.get(name);
            for (Site site : adapter.sites()) {
                if (block instanceof Fuse && site.kind() != SiteKind.SUBLAYER) {
                    throw new IllegalArgumentException(fuseRefusal(name, adapter, site));
                }
                if (block instanceof Stack && site.kind() != SiteKind.SUBLAYER) {
                    String why = site.kind() == SiteKind.LINEAR
                            ? "at a linear site each module reads the layer's input, not another adapter's output, and two stacked weight transforms on one weight would not commute"
                            : "only a sublayer's output can feed the next adapter";
                    throw new IllegalArgumentException(format("a stack block stacks adapters at sublayer sites only; adapter '%s' (method %s) has a module at %s site %s: %s",
                            name, adapter.descriptor().id(), site.kind(), site.name(), why));
                }
                if (block instanceof Average && (site.kind() == SiteKind.ATTENTION || site.kind() == SiteKind.EMBEDDING)) {
                    throw new IllegalArgumentException(format(
                            "an average block weights additive terms, scales, weight deltas and sublayer deltas; adapter '%s' (method %s) adds virtual tokens at %s site %s, "
                                    + "which do not average: use a parallel block, or sum composition",
                            name, adapter.descriptor().id(), site.kind(), site.name()));
                }
            }
        }
    }

    private static String fuseRefusal(String name, Adapter adapter, Site site) {
        return format("a fuse block fuses adapters at sublayer sites only (bottleneck adapters, AdapterFusion); adapter '%s' (method %s) has a module at %s site %s, "
                + "whose contribution is not a sublayer output the fusion can attend over: use an average block, or sum composition", name, adapter.descriptor().id(),
                site.kind(), site.name());
    }

    /**
     * Adds the AdapterFusion {@code block} (AdapterHub's {@code add_adapter_fusion} and {@code train_adapter_fusion}):
     * one {@link FusionLayer} per sublayer site where a fused adapter has a module, trainable, and the fused adapters
     * frozen. Activate it with {@link #setActiveBlock}. Everything is checked before any tensor is made.
     *
     * @throws IllegalArgumentException for a name in use, an unknown adapter, or an adapter with a module that is not at a
     *         sublayer site (with the reason)
     * @throws IllegalStateException when a fused adapter is merged into the base weights
     */
    public Fusion addFusion(Fuse block) {
        requireNonNull(block, "block is null");
        if (fusions.containsKey(block.name())) {
            throw new IllegalArgumentException(format("a fusion named '%s' already exists (fusing %s); delete it first or choose another name",
                    block.name(), fusions.get(block.name()).adapterNames()));
        }
        for (String name : block.adapterNames()) {
            if (!adapters.containsKey(name)) {
                throw new IllegalArgumentException(format("the fuse block names adapter '%s', which this model does not have; adapters: %s", name, adapters.keySet()));
            }
            Adapter adapter = adapters.get(name);
            if (adapter.isMerged()) {
                throw new IllegalStateException(format("adapter '%s' is merged into the base weights, so a fuse block cannot combine it at run time: unmerge it first", name));
            }
            for (Site site : adapter.sites()) {
                if (site.kind() != SiteKind.SUBLAYER) {
                    throw new IllegalArgumentException(fuseRefusal(name, adapter, site));
                }
            }
        }
        Map<Site, FusionLayer> layers = new LinkedHashMap<>();
        for (Site site : base.sites()) {
            boolean fused = block.adapterNames().stream().anyMatch(name -> adapters.get(name).attachments().containsKey(site));
            if (fused) {
                FusionLayer layer = new FusionLayer(site, ((SublayerSite) site).hiddenSize());
                layer.initialize(base.manager(), DataType.FLOAT32, exampleInput(site));
                layers.put(site, layer);
                adapterBlocks.add(fusionBlockName(block.name(), site), layer);
            }
        }
        Fusion fusion = new Fusion(block, layers);
        fusions.put(block.name(), fusion);
        block.adapterNames().forEach(name -> adapters.get(name).setTrainable(false));
        fusion.setTrainable(true);
        return fusion;
    }

    private static String fusionBlockName(String fusionName, Site site) {
        return "fusion/" + fusionName + "/" + site.name();
    }

    /** The fusions, in the order they were added. */
    public Map<String, Fusion> fusions() {
        return Collections.unmodifiableMap(fusions);
    }

    /** The fusion named {@code name}. */
    public Fusion fusion(String name) {
        Fusion fusion = fusions.get(name);
        if (fusion == null) {
            throw new IllegalArgumentException(format("no fusion named '%s'; fusions: %s", name, fusions.keySet()));
        }
        return fusion;
    }

    /** Makes a fusion's parameters trainable or frozen. */
    public void setFusionTrainable(String name, boolean trainable) {
        fusion(name).setTrainable(trainable);
    }

    /** Deletes a fusion and frees its parameters; an active fuse block of it is cleared. The fused adapters stay. */
    public void deleteFusion(String name) {
        Fusion fusion = fusion(name);
        if (activeBlock instanceof Fuse && ((Fuse) activeBlock).name().equals(name)) {
            clearBlock();
        }
        for (Map.Entry<Site, FusionLayer> entry : fusion.layers().entrySet()) {
            adapterBlocks.remove(fusionBlockName(name, entry.getKey()));
        }
        fusion.parameters().forEach(Parameter::close);
        fusions.remove(name);
    }

    private void clearBlock() {
        if (activeBlock == null) {
            return;
        }
        if (activeBlock instanceof Fuse) {
            fusions.get(((Fuse) activeBlock).name()).layers().keySet().forEach(site -> base.attachments(site).clearFusion());
        }
        for (Adapter adapter : adapters.values()) {
            for (Attachment attachment : adapter.attachments().values()) {
                attachment.leaveBlock();
            }
        }
        activeBlock = null;
    }

    /** The names of the active adapters. */
    public List<String> activeAdapters() {
        List<String> active = new ArrayList<>();
        adapters.values().stream().filter(Adapter::isActive).forEach(adapter -> active.add(adapter.name()));
        return active;
    }

    /** Makes an adapter's parameters trainable or frozen; activation is unaffected. */
    public void setTrainable(String name, boolean trainable) {
        adapter(name).setTrainable(trainable);
    }

    /**
     * Merges the named adapters into the base weights.
     *
     * @throws IllegalStateException for a method that cannot merge, a gated adapter, or an inactive adapter
     */
    public void merge(List<String> names) {
        if (activeBlock != null) {
            throw new IllegalStateException(format(
                    "a %s block %s is active: it combines adapters at run time, and merging folds each adapter into the weights alone. "
                            + "Deployments that must merge use sum composition: clear the block (setActiveBlock(null)) and merge the adapters attached with composition 'sum'",
                    activeBlock.kind(), activeBlock.adapterNames()));
        }
        for (String name : names) {
            Adapter adapter = adapter(name);
            if (!adapter.descriptor().mergeable()) {
                throw new IllegalStateException(format("adapter '%s' uses method '%s', which cannot be merged into base weights (%s); run it unmerged",
                        name, adapter.descriptor().id(), adapter.descriptor().siteKinds()));
            }
            if (adapter.composition() == Composition.GATED) {
                throw new IllegalStateException(format("adapter '%s' is gated: its gate scales each example differently, so it cannot be merged; "
                        + "run it unmerged, or, for a deployment that must merge, attach it with composition 'sum'", name));
            }
            if (!adapter.isActive()) {
                throw new IllegalStateException(format("adapter '%s' is inactive; activate it before merging", name));
            }
        }
        for (String name : names) {
            for (Map.Entry<Site, Attachment> entry : adapter(name).attachments().entrySet()) {
                if (!(entry.getKey() instanceof LinearSite)) {
                    throw new IllegalStateException(format("adapter '%s' has a module at %s site %s, which cannot be merged", name, entry.getKey().kind(), entry.getKey().name()));
                }
                base.linearSite(entry.getKey().name()).merge(name);
            }
        }
    }

    /** Unmerges the named adapters, in reverse order. */
    public void unmerge(List<String> names) {
        List<String> reversed = new ArrayList<>(names);
        Collections.reverse(reversed);
        for (String name : reversed) {
            for (Site site : adapter(name).sites()) {
                base.linearSite(site.name()).unmerge(name);
            }
        }
    }

    /**
     * Deletes an adapter and frees its parameters.
     *
     * @throws IllegalStateException if it is merged (unmerge it first)
     */
    public void deleteAdapter(String name) {
        Adapter adapter = adapter(name);
        for (Fusion fusion : fusions.values()) {
            if (fusion.adapterNames().contains(name)) {
                throw new IllegalStateException(format("adapter '%s' is fused by fusion '%s' (%s); delete the fusion first", name, fusion.name(), fusion.adapterNames()));
            }
        }
        if (adapter.isMerged()) {
            throw new IllegalStateException(format("adapter '%s' is merged into the base weights; unmerge it before deleting it", name));
        }
        if (activeBlock != null && activeBlock.adapterNames().contains(name)) {
            clearBlock();
        }
        for (Map.Entry<Site, Attachment> entry : adapter.attachments().entrySet()) {
            base.attachments(entry.getKey()).remove(name);
            String blockName = name + "/" + entry.getKey().kind() + "/" + entry.getKey().name();
            adapterBlocks.remove(blockName);
            entry.getValue().gate().ifPresent(gate -> adapterBlocks.remove(blockName + "/gate"));
        }
        adapterBlocks.remove(name + "/shared");
        adapterBlocks.remove(name + "/modules_to_save");
        for (Parameter parameter : adapter.trainableParameters()) {
            parameter.close();
        }
        try (ThreadContextClassLoader ignored = ThreadContextClassLoader.enter(adapter.method())) {
            adapter.instance().sharedParameters().values().forEach(Parameter::close);
        }
        adapters.remove(name);
    }

    /** The number of trainable parameters (each tensor counted once). */
    public long trainableParameterCount() {
        return countParameters(true);
    }

    /** The number of parameters, base and adapters, each tensor counted once (tied weights once). */
    public long totalParameterCount() {
        return countParameters(false);
    }

    private long countParameters(boolean trainableOnly) {
        Map<Object, Boolean> seen = new IdentityHashMap<>();
        long count = 0;
        for (Pair<String, Parameter> pair : getParameters()) {
            Parameter parameter = pair.getValue();
            if (parameter.getArray() == null || (trainableOnly && !parameter.requiresGradient())) {
                continue;
            }
            if (seen.put(parameter.getArray(), Boolean.TRUE) == null) {
                count += parameter.getArray().getShape().size();
            }
        }
        return count;
    }

    /**
     * Turns gate recording on or off for every gate, present and future. While on, each forward pass copies the
     * gates' per-example values to the JVM for {@link #gateReadings()}; off (the default), a forward pass copies
     * nothing, so plain inference and training pay nothing for gates nobody reads. The evaluator turns it on.
     */
    public void setGateRecording(boolean recording) {
        gateRecording = recording;
        for (Adapter adapter : adapters.values()) {
            for (Attachment attachment : adapter.attachments().values()) {
                attachment.gate().ifPresent(gate -> gate.setRecording(recording));
            }
        }
    }

    /** Whether forward passes record the gates' values. */
    public boolean isGateRecording() {
        return gateRecording;
    }

    /**
     * The gates' values from the last forward pass made while {@linkplain #setGateRecording recording}, per
     * adapter and site.
     *
     * @throws IllegalStateException if gate recording is off
     */
    public List<GateReading> gateReadings() {
        if (!gateRecording) {
            throw new IllegalStateException("Gate recording is off, so no forward pass kept gate values: call setGateRecording(true) before the forward passes whose gates you want to read");
        }
        List<GateReading> readings = new ArrayList<>();
        for (Adapter adapter : adapters.values()) {
            for (Map.Entry<Site, Attachment> entry : adapter.attachments().entrySet()) {
                entry.getValue().gate().ifPresent(gate -> readings.add(new GateReading(adapter.name(), adapter.descriptor().id(),
                        entry.getKey().name(), entry.getKey().layerIndex(), gate.lastValues())));
            }
        }
        return readings;
    }

    /**
     * Delivers a training event to the adapters' method instances: step and epoch ends only to adapters that
     * are being trained (trainable, active, not merged), so a method never acts on an adapter that is not
     * learning (PeriodicLoRA must not offload a merged adapter); save events to every adapter.
     */
    public void dispatch(TrainingEvent event, TrainingContext context) {
        for (Adapter adapter : adapters.values()) {
            boolean training = adapter.isTrainable() && adapter.isActive() && !adapter.isMerged();
            if (event instanceof TrainingEvent.Save || training) {
                try (ThreadContextClassLoader ignored = ThreadContextClassLoader.enter(adapter.method())) {
                    adapter.instance().onEvent(event, context);
                }
            }
        }
    }

    /**
     * Routes each row of the forward passes this thread runs, until the returned routing is closed, to its own
     * adapter (PEFT's {@code adapter_names}, AdapterHub's {@code BatchSplit}): row {@code i} gets
     * {@code rowAdapters.get(i)}, or the base model alone for {@code null}, whatever the adapters' activation; each
     * row's output equals running that row alone with only its adapter active. Works for every method kind (see
     * {@link RowRouting} and the models for prefix and prompt tuning). Inference only: a training forward under a
     * routing is refused. Everything is checked here, before any tensor is made.
     *
     * @throws IllegalArgumentException on no rows or a row naming an adapter this model does not have
     * @throws IllegalStateException when an adapter is merged into the base weights (it would reach every row)
     */
    public RowRouting route(List<String> rowAdapters) {
        requireNonNull(rowAdapters, "rowAdapters is null");
        if (rowAdapters.isEmpty()) {
            throw new IllegalArgumentException("per-row adapter routing needs one adapter name (or null for the base model) per row; none given");
        }
        for (int row = 0; row < rowAdapters.size(); row++) {
            String name = rowAdapters.get(row);
            if (name != null && !adapters.containsKey(name)) {
                throw new IllegalArgumentException(format("row %d is routed to adapter '%s', which this model does not have; adapters: %s", row, name, adapters.keySet()));
            }
        }
        for (Adapter adapter : adapters.values()) {
            if (adapter.isMerged()) {
                throw new IllegalStateException(format(
                        "adapter '%s' is merged into the base weights, so it would reach every row: unmerge it before routing rows to adapters", adapter.name()));
            }
        }
        for (String name : rowAdapters) {
            requireNoModuleCopies(name);
        }
        if (activeBlock != null) {
            throw new IllegalStateException(format("a %s block %s is active; per-row routing gives each row one adapter alone: clear the block (setActiveBlock(null)) first",
                    activeBlock.kind(), activeBlock.adapterNames()));
        }
        return RowRouting.enter(rowAdapters, base.manager());
    }

    /**
     * One inference forward with row {@code i} routed to {@code rowAdapters.get(i)} ({@code null}: the base model);
     * see {@link #route}.
     */
    public NDList forward(ParameterStore parameterStore, NDList inputs, List<String> rowAdapters) {
        try (RowRouting ignored = route(rowAdapters)) {
            return forward(parameterStore, inputs, false);
        }
    }

    private void requireNoModuleCopies(String name) {
        if (name != null && !adapter(name).moduleCopies().isEmpty()) {
            throw new IllegalStateException(format(
                    "adapter '%s' trains full copies of %s (modules_to_save), which replace the base modules for a whole batch: run its rows in a batch of their own",
                    name, adapter(name).modulesToSave().modules()));
        }
    }

    /**
     * The base weights by Hugging Face key as a merged export writes them: each active adapter's
     * {@code modules_to_save} copy replaces the original (PEFT's {@code merge_and_unload}); merge the adapters first.
     */
    public Map<String, NDArray> exportedStateDict() {
        Map<String, NDArray> state = new LinkedHashMap<>(base.stateDict());
        for (Adapter adapter : activeModuleAdapters()) {
            adapter.moduleCopies().forEach((key, copy) -> state.put(key, copy.getArray()));
        }
        return Collections.unmodifiableMap(state);
    }

    private List<Adapter> activeModuleAdapters() {
        List<Adapter> active = new ArrayList<>();
        for (Adapter adapter : adapters.values()) {
            if (adapter.isActive() && !adapter.moduleCopies().isEmpty()) {
                active.add(adapter);
            }
        }
        return active;
    }

    /** The module a parameter name belongs to: {@code pooler.dense} for {@code pooler.dense.weight}. */
    private static String moduleOf(String parameterName) {
        int dot = parameterName.lastIndexOf('.');
        return dot < 0 ? parameterName : parameterName.substring(0, dot);
    }

    /** The active adapters' module copies by the base parameter each replaces; two adapters replacing one module are refused. */
    private Map<Parameter, Parameter> activeSubstitutes() {
        Map<Parameter, Parameter> substitutes = new IdentityHashMap<>();
        Map<Parameter, String> owners = new IdentityHashMap<>();
        for (Adapter adapter : activeModuleAdapters()) {
            for (Map.Entry<Parameter, Parameter> entry : adapter.modulesToSave().substitutes().entrySet()) {
                String other = owners.put(entry.getKey(), adapter.name());
                if (other != null) {
                    throw new IllegalStateException(format(
                            "adapters '%s' and '%s' are both active and both train a copy of %s (modules_to_save); only one copy can replace the module: activate one of them",
                            other, adapter.name(), moduleOf(entry.getValue().getName())));
                }
                substitutes.put(entry.getKey(), entry.getValue());
            }
        }
        return substitutes;
    }

    /**
     * One forward pass; passes from several threads run one at a time (see the class comment: a pass moves the
     * weights it reads into the caller's scope while it runs).
     */
    @Override
    protected NDList forwardInternal(ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        forwardLock.lock();
        try {
            Map<Parameter, Parameter> substitutes = RowRouting.current().isPresent() || activeBlock instanceof Parallel ? Map.of() : activeSubstitutes();
            if (substitutes.isEmpty()) {
                return forwardBase(parameterStore, inputs, training, params);
            }
            NDManager outputs = inputs.get(0).getManager();
            try (NDManager scope = outputs.newSubManager()) {
                NDList result = forwardBase(new SubstitutingParameterStore(parameterStore, substitutes, scope), inputs, training, params);
                for (NDArray output : result) {
                    if (output.getManager() == scope) {
                        output.attach(outputs);
                    }
                }
                return result;
            }
        }
        finally {
            forwardLock.unlock();
        }
    }

    private NDList forwardBase(ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        if (activeBlock instanceof Parallel && RowRouting.current().isEmpty()) {
            ((Parallel) activeBlock).adapterNames().forEach(this::requireNoModuleCopies);
            return forwardParallel(parameterStore, (Parallel) activeBlock, inputs, training, params);
        }
        RowRouting.current().ifPresent(routing -> checkRouted(routing, inputs, training));
        return base.forward(parameterStore, inputs, training, params);
    }

    /**
     * A parallel block's forward: every input with the batch's rows copied once per adapter, the copies routed
     * adapter by adapter. Inputs without a row per example (position ids of one row, say) are passed as they are.
     */
    private NDList forwardParallel(ParameterStore parameterStore, Parallel block, NDList inputs, boolean training, PairList<String, Object> params) {
        if (training) {
            throw new IllegalStateException(format("a parallel block %s is for inference only: train each adapter on its own, without the block", block.adapterNames()));
        }
        long batch = inputs.get(0).getShape().get(0);
        int copies = block.adapterNames().size();
        List<String> rows = new ArrayList<>();
        for (String name : block.adapterNames()) {
            rows.addAll(Collections.nCopies(Math.toIntExact(batch), name));
        }
        NDList copied = new NDList();
        NDList made = new NDList();
        for (NDArray input : inputs) {
            if (copies > 1 && input.getShape().dimension() > 0 && input.getShape().get(0) == batch) {
                NDList parts = new NDList();
                for (int copy = 0; copy < copies; copy++) {
                    parts.add(input);
                }
                NDArray repeated = NDArrays.concat(parts, 0);
                made.add(repeated);
                copied.add(repeated);
            }
            else {
                copied.add(input);
            }
        }
        try (RowRouting ignored = RowRouting.enter(rows, base.manager())) {
            return base.forward(parameterStore, copied, training, params);
        }
        finally {
            made.close();
        }
    }

    private static void checkRouted(RowRouting routing, NDList inputs, boolean training) {
        if (training) {
            throw new IllegalStateException("per-row adapter routing is for inference only: train each adapter on its own, without a routing");
        }
        long batch = inputs.get(0).getShape().get(0);
        if (batch != routing.rows()) {
            throw new IllegalArgumentException(format("the batch has %d rows, but the routing names an adapter (or null) for %d rows", batch, routing.rows()));
        }
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return base.getOutputShapes(inputShapes);
    }

    /** Nothing to do: base weights are set when the model is built and adapters are initialised when attached. */
    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {}

    /** The linear site block behind {@code site}, for training contexts and stores. */
    public LinearSiteBlock linearSite(LinearSite site) {
        return base.linearSite(site.name());
    }
}

package dev.graft.plugin.bone;

import static java.lang.String.format;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import dev.graft.runtime.model.LlamaConfig;
import dev.graft.runtime.model.LlamaForCausalLM;
import dev.graft.runtime.model.LlamaWeights;
import dev.graft.spi.InvalidOptionsException;
import dev.graft.spi.LinearSite;
import dev.graft.spi.LinearWeights;
import dev.graft.spi.MethodDescriptor;
import dev.graft.spi.MethodInstance;
import dev.graft.spi.MethodModule;
import dev.graft.spi.ModelContext;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.Site;
import dev.graft.spi.SiteKind;
import dev.graft.spi.SpiVersion;
import dev.graft.spi.WeightTransformModule;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The {@code miss} method: its descriptor, its parameter counts (on all-MiniLM-L6-v2's and Llama-3.2-3B's q and v
 * projections), the checks on its targets, and the Bone → MiSS mapping (same tensors, other names, same outputs).
 */
final class TestMissMethod {
    private final PeftMethod miss = new MissMethod();
    private final PeftMethod bone = new BoneMethod();
    private NDManager manager;
    private ModelContext model;

    @BeforeEach
    void openModel() {
        manager = NDManager.newBaseManager();
        model = LlamaForCausalLM.create(LlamaConfig.tiny(), LlamaWeights.random(LlamaConfig.tiny(), manager, 1), manager, null).context();
    }

    @AfterEach
    void closeModel() {
        manager.close();
    }

    @Test
    void testDescriptor() {
        MethodDescriptor descriptor = miss.descriptor();

        assertThat(descriptor.id()).isEqualTo("miss");
        assertThat(descriptor.spiVersion()).isEqualTo(SpiVersion.CURRENT);
        assertThat(descriptor.peftType()).isEqualTo("MISS");
        assertThat(descriptor.siteKinds()).containsExactly(SiteKind.LINEAR);
        assertThat(descriptor.mergeable()).isTrue();
        assertThat(descriptor.defaultTargets()).isEqualTo(bone.descriptor().defaultTargets());
        assertThat(descriptor.options().names()).containsExactly("r", "miss_dropout", "mini_r", "init_weights", "bias");
    }

    @Test
    void testServiceLoaderFindsBoneAndMissInTheOneJar() {
        assertThat(ServiceLoader.load(PeftMethod.class).stream().map(ServiceLoader.Provider::type)).contains(BoneMethod.class, MissMethod.class);
    }

    @Test
    void testParameterCountsOnMiniLmQueryAndValue() {
        // all-MiniLM-L6-v2: 6 layers, query and value 384 → 384: 12 sites of out 384
        List<Site> sites = projections(6, "encoder.layer.%d.attention.self.", List.of("query", "value"), 384, List.of(384, 384));
        // default and bat: r·out = 64 · 384 per site; mini: r·mini_r
        assertThat(create(Map.of("r", 64)).trainableParameterCount(sites)).isEqualTo(294_912L);
        assertThat(create(Map.of("r", 64, "init_weights", false)).trainableParameterCount(sites)).isEqualTo(294_912L);
        assertThat(create(Map.of("r", 64, "init_weights", "bat")).trainableParameterCount(sites)).isEqualTo(294_912L);
        assertThat(create(Map.of("r", 64, "init_weights", "mini")).trainableParameterCount(sites)).isEqualTo(768L);
        assertThat(create(Map.of("r", 64, "init_weights", "mini", "mini_r", 32)).trainableParameterCount(sites)).isEqualTo(24_576L);
        // Bone counts the same as MiSS's default
        MethodInstance boneInstance = bone.create(bone.descriptor().options().validate("bone", Map.of("r", 64)), model);
        assertThat(boneInstance.trainableParameterCount(sites)).isEqualTo(294_912L);
    }

    @Test
    void testParameterCountsOnLlama32ThreeBillionMatchPeftsMethodComparison() {
        // Llama-3.2-3B: 28 layers, hidden 3072; q_proj 3072 → 3072, v_proj 3072 → 1024 (8 key-value heads of 128)
        List<Site> sites = projections(28, "model.layers.%d.self_attn.", List.of("q_proj", "v_proj"), 3072, List.of(3072, 1024));
        // PEFT's MetaMathQA results (peft-anchors 1.5): MiSS default and bat, r=64, both 7,340,032 = 64 · (3072 + 1024) · 28
        assertThat(create(Map.of("r", 64)).trainableParameterCount(sites)).isEqualTo(7_340_032L);
        assertThat(create(Map.of("r", 64, "init_weights", "bat")).trainableParameterCount(sites)).isEqualTo(7_340_032L);
        // mini, by the formula r · mini_r per site: 64 · 1 · 56 and 64 · 64 · 56
        assertThat(create(Map.of("r", 64, "init_weights", "mini")).trainableParameterCount(sites)).isEqualTo(3_584L);
        assertThat(create(Map.of("r", 64, "init_weights", "mini", "mini_r", 64)).trainableParameterCount(sites)).isEqualTo(229_376L);
    }

    @Test
    void testTargetsThatDoNotDivideAreRefusedBeforeAnyTensor() {
        LinearSite odd = new LinearSite("model.layers.0.self_attn.q_proj", 0, 64, 48, false);
        assertThatThrownBy(() -> create(Map.of("r", 32, "init_weights", "bat")).prepare(List.of(odd)))
                .isInstanceOf(InvalidOptionsException.class)
                .hasMessage("Method 'miss': option 'r' is 32, but must be a divisor of every target's in and out features with init_weights \"bat\", "
                        + "but model.layers.0.self_attn.q_proj has in=64, out=48; choose another r or use init_weights true. Fix the value.");
        assertThatThrownBy(() -> create(Map.of("r", 4, "init_weights", "mini", "mini_r", 32)).prepare(List.of(odd)))
                .isInstanceOf(InvalidOptionsException.class)
                .hasMessage("Method 'miss': option 'mini_r' is 32, but must be a divisor of every target's out features with init_weights \"mini\", "
                        + "but model.layers.0.self_attn.q_proj has out=48; choose another mini_r or use init_weights true. Fix the value.");
        // as in PEFT, mini_r only matters to mini, and r need not divide anything for the default
        create(Map.of("r", 5, "mini_r", 32)).prepare(List.of(odd));
    }

    @Test
    void testMissDropoutIsAcceptedWithBatAsPeftDoes() {
        MethodInstance instance = create(Map.of("r", 4, "init_weights", "bat", "miss_dropout", 0.1));
        assertThat(instance.attach(new LinearSite("proj", 0, 8, 8, false))).isInstanceOf(WeightTransformModule.class);
    }

    @Test
    void testBoneBlocksRenamedToMissBlocksGiveTheSameOutputs() {
        LinearSite site = new LinearSite("model.layers.0.self_attn.q_proj", 0, 10, 8, false);
        NDArray weight = manager.randomNormal(new Shape(8, 10));
        NDArray x = manager.randomNormal(new Shape(3, 10));
        for (Object initWeights : List.of(true, false)) {
            BoneModule boneModule = (BoneModule) attach(bone, "bone", Map.of("r", 4, "init_weights", initWeights), site);
            BoneModule missModule = (BoneModule) attach(miss, "miss", Map.of("r", 4, "init_weights", initWeights), site);
            copy(boneModule.getParameters().get("bone_block"), missModule.getParameters().get("miss_block"));
            assertThat(missModule.delta(new ParameterStore(manager, false), x, false).toFloatArray())
                    .containsExactly(boneModule.delta(new ParameterStore(manager, false), x, false).toFloatArray());
            assertThat(missModule.merge(new LinearWeights(weight, null)).weight().toFloatArray())
                    .containsExactly(boneModule.merge(new LinearWeights(weight, null)).weight().toFloatArray());
        }
        BatModule boneBat = (BatModule) attach(bone, "bone", Map.of("r", 2, "init_weights", "bat"), site);
        BatModule missBat = (BatModule) attach(miss, "miss", Map.of("r", 2, "init_weights", "bat"), site);
        boneBat.getParameters().get("bone_block").getArray().set(manager.randomNormal(new Shape(4, 2, 2)).toFloatArray());
        copy(boneBat.getParameters().get("bone_block"), missBat.getParameters().get("miss_block"));
        assertThat(missBat.merge(new LinearWeights(weight, null)).weight().toFloatArray())
                .containsExactly(boneBat.merge(new LinearWeights(weight, null)).weight().toFloatArray());
    }

    private MethodInstance create(Map<String, Object> options) {
        return miss.create(miss.descriptor().options().validate("miss", options), model);
    }

    private MethodModule attach(PeftMethod method, String id, Map<String, Object> options, LinearSite site) {
        MethodInstance instance = method.create(method.descriptor().options().validate(id, options), model);
        instance.prepare(List.of(site));
        MethodModule module = instance.attach(site);
        module.initialize(manager, DataType.FLOAT32, new Shape(1, site.inFeatures()));
        return module;
    }

    private static void copy(Parameter from, Parameter to) {
        assertThat(to.getArray().getShape()).isEqualTo(from.getArray().getShape());
        to.getArray().set(from.getArray().toFloatArray());
    }

    private static List<Site> projections(int layers, String prefix, List<String> names, int in, List<Integer> outs) {
        List<Site> sites = new ArrayList<>();
        for (int layer = 0; layer < layers; layer++) {
            for (int index = 0; index < names.size(); index++) {
                sites.add(new LinearSite(format(prefix, layer) + names.get(index), layer, in, outs.get(index), false));
            }
        }
        return List.copyOf(sites);
    }
}

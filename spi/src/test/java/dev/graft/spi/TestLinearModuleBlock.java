package dev.graft.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;

import java.lang.reflect.Proxy;
import org.junit.jupiter.api.Test;

/** Runs without an engine: the arrays are opaque stand-ins, the hooks only record what they were given. */
final class TestLinearModuleBlock {
    private static final LinearSite SITE = new LinearSite("model.layers.0.self_attn.q_proj", 0, 8, 6, false);

    @Test
    void testRequireLinearReturnsTheSiteOrNamesMethodSiteAndKind() {
        assertThat(LinearModuleBlock.requireLinear(SITE, "demo")).isSameAs(SITE);
        SublayerSite sublayer = new SublayerSite("model.layers.0.mlp", 0, SublayerKind.FEED_FORWARD, 8);
        assertThatThrownBy(() -> LinearModuleBlock.requireLinear(sublayer, "demo"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("Method 'demo' attaches to linear sites only, but model.layers.0.mlp is a SUBLAYER site");
        assertThatThrownBy(() -> LinearModuleBlock.requireLinear(null, "demo"))
                .isInstanceOf(NullPointerException.class)
                .hasMessage("site is null");
    }

    @Test
    void testSiteIsRequiredAndKept() {
        assertThat(new FakeAdditive(SITE).site()).isSameAs(SITE);
        assertThatThrownBy(() -> new FakeAdditive(null))
                .isInstanceOf(NullPointerException.class)
                .hasMessage("site is null");
    }

    @Test
    void testForwardOfAnAdditiveModuleIsItsDelta() {
        FakeAdditive module = new FakeAdditive(SITE);
        NDArray x = array("x");
        NDList output = module.forwardInternal(null, new NDList(x), true, null);
        assertThat(output.singletonOrThrow()).isSameAs(module.result);
        assertThat(module.seen).isSameAs(x);
        assertThat(module.training).isTrue();
        assertThat(module.getOutputShapes(new Shape[] {new Shape(2, 5, 8)})).containsExactly(new Shape(2, 5, 6));
        assertThat(module.getOutputShapes(new Shape[] {new Shape(8)})).containsExactly(new Shape(6));
    }

    @Test
    void testForwardOfAScalingModuleIsItsScaleOfTheScaledSidesWidth() {
        FakeScaling input = new FakeScaling(SITE, ScalingLinearModule.Side.INPUT);
        NDArray x = array("x");
        assertThat(input.forwardInternal(null, new NDList(x), false, null).singletonOrThrow()).isSameAs(input.result);
        assertThat(input.seen).isSameAs(x);
        assertThat(input.getOutputShapes(new Shape[] {new Shape(2, 5, 8)})).containsExactly(new Shape(8));
        FakeScaling output = new FakeScaling(SITE, ScalingLinearModule.Side.OUTPUT);
        assertThat(output.getOutputShapes(new Shape[] {new Shape(2, 5, 8)})).containsExactly(new Shape(6));
    }

    @Test
    void testForwardOfAWeightTransformModuleIsItsWeightDelta() {
        FakeWeightTransform module = new FakeWeightTransform(SITE);
        NDArray weight = array("weight");
        assertThat(module.forwardInternal(null, new NDList(weight), false, null).singletonOrThrow()).isSameAs(module.result);
        assertThat(module.seen).isSameAs(weight);
        assertThat(module.getOutputShapes(new Shape[] {new Shape(6, 8)})).containsExactly(new Shape(6, 8));
    }

    @Test
    void testForwardTakesExactlyOneInput() {
        FakeAdditive module = new FakeAdditive(SITE);
        assertThatThrownBy(() -> module.forwardInternal(null, new NDList(array("a"), array("b")), false, null))
                .isInstanceOf(IndexOutOfBoundsException.class);
    }

    /** An opaque array: only identity works. */
    private static NDArray array(String name) {
        return (NDArray) Proxy.newProxyInstance(NDArray.class.getClassLoader(), new Class<?>[] {NDArray.class}, (proxy, method, args) -> {
            switch (method.getName()) {
                case "equals":
                    return proxy == args[0];
                case "hashCode":
                    return System.identityHashCode(proxy);
                case "toString":
                    return name;
                default:
                    throw new UnsupportedOperationException(method.getName());
            }
        });
    }

    private static final class FakeAdditive extends LinearModuleBlock.Additive {
        final NDArray result = array("delta");
        NDArray seen;
        boolean training;

        FakeAdditive(LinearSite site) {
            super(site);
        }

        @Override
        public NDArray delta(ParameterStore parameterStore, NDArray x, boolean training) {
            this.seen = x;
            this.training = training;
            return result;
        }

        @Override
        public float scaling() {
            return 1;
        }
    }

    private static final class FakeScaling extends LinearModuleBlock.Scaling {
        final NDArray result = array("scale");
        private final Side side;
        NDArray seen;

        FakeScaling(LinearSite site, Side side) {
            super(site);
            this.side = side;
        }

        @Override
        public Side side() {
            return side;
        }

        @Override
        public NDArray scale(ParameterStore parameterStore, NDArray x, boolean training) {
            this.seen = x;
            return result;
        }
    }

    private static final class FakeWeightTransform extends LinearModuleBlock.WeightTransform {
        final NDArray result = array("weightDelta");
        NDArray seen;

        FakeWeightTransform(LinearSite site) {
            super(site);
        }

        @Override
        public NDArray weightDelta(ParameterStore parameterStore, NDArray weight, boolean training) {
            this.seen = weight;
            return result;
        }
    }
}

package dev.graft.runtime.compose;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import dev.graft.spi.Scalars;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * The constants of a trained forward pass must outlive a garbage collection between forward and backward: DJL's
 * {@code mul(Number)} puts its constant in a Java buffer that nothing keeps (see {@link Scalars}). With
 * {@code x.mul(3f)} in place of {@code Scalars.times(x, 3f)} this test read a gradient of -4.36e30 instead of 3; in
 * training the same fault gave NaN gradient norms at a step that moved with the heap size.
 */
final class TestScalars {
    @Test
    void testGradientsThroughConstantsSurviveAGarbageCollection() {
        assertThat(gradientAfterCollection(x -> Scalars.times(x, 3f))).containsExactly(3f, 3f, 3f);
        assertThat(gradientAfterCollection(x -> Scalars.dividedBy(x, 4f))).containsExactly(0.25f, 0.25f, 0.25f);
    }

    static float[] gradientAfterCollection(UnaryOperator<NDArray> operation) {
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray x = manager.create(new float[] {1, 2, 3});
            x.setRequiresGradient(true);
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                NDArray y;
                try (NDManager scope = manager.newSubManager()) {
                    scope.tempAttachAll(x);
                    y = scope.ret(operation.apply(x).sum());
                }
                churn();
                collector.backward(y);
            }
            return x.getGradient().toFloatArray();
        }
    }

    /** Frees unreachable direct buffers and hands their memory out again, filled with NaN. */
    private static void churn() {
        for (int round = 0; round < 5; round++) {
            System.gc();
            List<ByteBuffer> buffers = new ArrayList<>();
            for (int index = 0; index < 2000; index++) {
                ByteBuffer buffer = ByteBuffer.allocateDirect(4).order(ByteOrder.nativeOrder());
                buffer.putFloat(0, Float.NaN);
                buffers.add(buffer);
            }
            buffers.clear();
        }
    }
}

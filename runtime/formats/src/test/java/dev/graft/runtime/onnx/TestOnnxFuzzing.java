package dev.graft.runtime.onnx;

import static java.lang.String.format;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.code_intelligence.jazzer.junit.FuzzTest;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Timeout;

/**
 * Fuzzes the ONNX reader: any bytes either parse into a model whose every tensor (initializers and node attributes)
 * converts to Java arrays and DJL arrays of its declared size, or fail with an {@link OnnxFormatException}; no other
 * exception, no hang, no allocation sized by a forged dimension. Seeds and crashers live in
 * {@code TestOnnxFuzzingInputs/parse}; {@code mvn verify} replays them and then fuzzes for {@code graft.fuzz.duration}.
 */
final class TestOnnxFuzzing {
    private static final NDManager MANAGER = NDManager.newBaseManager("PyTorch");

    @AfterAll
    static void closeManager() {
        MANAGER.close();
    }

    @FuzzTest(maxDuration = "10s")
    @Timeout(10)
    void parse(byte[] bytes) {
        OnnxModel model;
        try {
            model = OnnxModel.parse(ByteBuffer.wrap(bytes), "fuzz.onnx");
        }
        catch (OnnxFormatException expected) {
            return;
        }
        List<OnnxTensor> tensors = new ArrayList<>(model.initializers().values());
        for (OnnxNode node : model.nodes()) {
            node.attributes().values().forEach(attribute -> attribute.tensor().ifPresent(tensors::add));
        }
        try (NDManager scope = MANAGER.newSubManager()) {
            for (OnnxTensor tensor : tensors) {
                convert(tensor, scope);
            }
        }
    }

    private static void convert(OnnxTensor tensor, NDManager scope) {
        try {
            long values = tensor.dataType().isFloatingPoint() ? tensor.toFloatArray().length : tensor.toLongArray().length;
            if (values != tensor.elementCount()) {
                throw new AssertionError(format("tensor %s: %d values, %d declared", tensor, values, tensor.elementCount()));
            }
            NDArray array = tensor.toNDArray(scope);
            if (array.size() != tensor.elementCount()) {
                throw new AssertionError(format("tensor %s: %d elements in the DJL array, %d declared", tensor, array.size(), tensor.elementCount()));
            }
        }
        catch (OnnxFormatException expected) {
            // A type this reader does not convert (strings, complex numbers, UINT64): said in one line.
        }
    }
}

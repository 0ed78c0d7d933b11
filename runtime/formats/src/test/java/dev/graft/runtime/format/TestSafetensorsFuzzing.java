package dev.graft.runtime.format;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.code_intelligence.jazzer.junit.FuzzTest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Fuzzes the safetensors reader: any bytes either open, list, view and load every tensor, or fail with a
 * {@link SafetensorsException}; no other exception, no hang, no allocation sized by a forged length. Seeds and crashers
 * live in {@code TestSafetensorsFuzzingInputs/openAndLoad}; {@code mvn verify} replays them in the tests and then fuzzes
 * for {@code graft.fuzz.duration} (README, "When things go wrong").
 */
final class TestSafetensorsFuzzing {
    private static final Path FILE = FuzzFiles.scratch("fuzz.safetensors");
    private static final NDManager MANAGER = NDManager.newBaseManager("PyTorch");

    @AfterAll
    static void closeManager() {
        MANAGER.close();
    }

    @FuzzTest(maxDuration = "10s")
    @Timeout(10)
    void openAndLoad(byte[] bytes) {
        FuzzFiles.write(FILE, bytes);
        try (SafetensorsFile checkpoint = SafetensorsFile.open(FILE); NDManager scope = MANAGER.newSubManager()) {
            checkpoint.metadata().forEach((key, value) -> key.length());
            for (String name : checkpoint.names()) {
                TensorInfo info = checkpoint.info(name);
                ByteBuffer data = checkpoint.data(name);
                if (data.remaining() != info.byteSize()) {
                    throw new AssertionError(String.format("tensor %s: %d bytes viewed, %d declared", name, data.remaining(), info.byteSize()));
                }
                NDArray array = checkpoint.load(name, scope);
                if (array.size() != info.elementCount()) {
                    throw new AssertionError(String.format("tensor %s: %d elements loaded, %d declared", name, array.size(), info.elementCount()));
                }
                if (info.dtype() == Dtype.F32 || info.dtype() == Dtype.F16 || info.dtype() == Dtype.BF16 || info.dtype() == Dtype.F64) {
                    checkpoint.load(name, scope, DataType.FLOAT32);
                }
            }
        }
        catch (SafetensorsException expected) {
            // The documented failure: one line naming the file and what is wrong.
        }
    }

    /** Scratch files for fuzz inputs: the readers take paths. */
    static final class FuzzFiles {
        private FuzzFiles() {}

        static Path scratch(String name) {
            try {
                return Files.createTempDirectory("graft-fuzz").resolve(name);
            }
            catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        static void write(Path file, byte[] bytes) {
            try {
                Files.write(file, bytes);
            }
            catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }
}

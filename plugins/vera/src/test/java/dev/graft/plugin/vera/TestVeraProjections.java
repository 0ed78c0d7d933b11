package dev.graft.plugin.vera;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import dev.graft.spi.LinearSite;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The shared projections: PEFT's, bit for bit, for a key. The reference is {@code peft-0.14-projections.safetensors}
 * (a copy of the project's {@code shared/peft-fixtures/vera-projections/projections.safetensors}): {@code vera_A} and
 * {@code vera_B} made by PEFT 0.14 itself with torch 1.13.1 on CPU, for {@code projection_prng_key} 0 and 1234, r 16,
 * largest in 64, largest out 128.
 */
final class TestVeraProjections {
    private static final String PEFT_FIXTURE = "peft-0.14-projections.safetensors";

    @ParameterizedTest
    @ValueSource(ints = {0, 1234})
    void testKeyGivesPeftsProjectionsBitForBit(int key) throws IOException {
        VeraProjections projections = VeraProjections.draw(key, 16, 64, 128);
        assertThat(projections.shapeA()).isEqualTo(new Shape(16, 64));
        assertThat(projections.shapeB()).isEqualTo(new Shape(128, 16));
        byte[] fixture = readFixture();
        assertThat(bits(projections.valuesA())).as("vera_A for key %d", key).containsExactly(bits(tensor(fixture, "key" + key + ".vera_A", 16 * 64)));
        assertThat(bits(projections.valuesB())).as("vera_B for key %d", key).containsExactly(bits(tensor(fixture, "key" + key + ".vera_B", 128 * 16)));
    }

    /**
     * An adapter with {@code save_projection: false}, as a load makes it: its projections, sized to the largest of its
     * sites, are PEFT's for the key, and its checkpoint holds none of them.
     */
    @Test
    void testAdapterWithoutSavedProjectionsRegeneratesPeftsFromTheKey() throws IOException {
        VeraConfiguration configuration = new VeraConfiguration(16, 1234, false, 0.0, 0.1, false, "none", true);
        VeraInstance adapter = new VeraInstance(configuration);
        adapter.prepare(List.of(new LinearSite("layers.0.q_proj", 0, 64, 32, false), new LinearSite("layers.0.up_proj", 0, 48, 128, false)));
        byte[] fixture = readFixture();
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, Parameter> shared = adapter.sharedParameters();
            shared.values().forEach(parameter -> parameter.initialize(manager, DataType.FLOAT32));
            assertThat(bits(shared.get(VeraInstance.SHARED_A_KEY).getArray().toFloatArray())).containsExactly(bits(tensor(fixture, "key1234.vera_A", 16 * 64)));
            assertThat(bits(shared.get(VeraInstance.SHARED_B_KEY).getArray().toFloatArray())).containsExactly(bits(tensor(fixture, "key1234.vera_B", 128 * 16)));
            assertThat(adapter.saveSharedState(manager)).isEmpty();
            adapter.loadSharedState(Map.of());
        }
    }

    /** The engine is the standard mt19937: seed 5489 (C++'s default) gives 3499211612 first and 4123659995 as the 10 000th draw. */
    @Test
    void testGeneratorIsTheStandardMersenneTwister() {
        TorchCpuGenerator generator = new TorchCpuGenerator(5489);
        assertThat(Integer.toUnsignedLong(generator.nextInt())).isEqualTo(3499211612L);
        for (int draw = 2; draw < 10_000; draw++) {
            generator.nextInt();
        }
        assertThat(Integer.toUnsignedLong(generator.nextInt())).isEqualTo(4123659995L);
    }

    /** Like torch's {@code manual_seed}, a negative key is its two's complement: only the low 32 bits seed the engine. */
    @Test
    void testSeedKeepsTheLowThirtyTwoBits() {
        TorchCpuGenerator negative = new TorchCpuGenerator(-1);
        TorchCpuGenerator unsigned = new TorchCpuGenerator(0xffff_ffffL);
        TorchCpuGenerator wide = new TorchCpuGenerator(0x1_0000_0007L);
        TorchCpuGenerator seven = new TorchCpuGenerator(7);
        for (int draw = 0; draw < 1000; draw++) {
            assertThat(negative.nextInt()).isEqualTo(unsigned.nextInt());
            assertThat(wide.nextInt()).isEqualTo(seven.nextInt());
        }
    }
    @Test
    void testShapesAndKaimingBounds() {
        VeraProjections projections = VeraProjections.draw(0, 4, 150, 24);
        assertThat(projections.shapeA()).isEqualTo(new Shape(4, 150));
        assertThat(projections.shapeB()).isEqualTo(new Shape(24, 4));
        // vera_A: fan_in = max_in = 150, bound √(6/150) = 0.2; vera_B: fan_in = r = 4, bound √(6/4) ≈ 1.2247
        assertThat(largestMagnitude(projections.valuesA())).isLessThanOrEqualTo(0.2f).isGreaterThan(0.19f);
        assertThat(largestMagnitude(projections.valuesB())).isLessThanOrEqualTo((float) Math.sqrt(1.5)).isGreaterThan(1.1f);
        assertThat(projections.valuesA()).hasSize(600);
        assertThat(projections.valuesB()).hasSize(96);
    }

    @Test
    void testSameKeyGivesSameValuesAndAnotherKeyOthers() {
        VeraProjections first = VeraProjections.draw(42, 4, 16, 8);
        VeraProjections again = VeraProjections.draw(42, 4, 16, 8);
        VeraProjections other = VeraProjections.draw(43, 4, 16, 8);
        assertThat(again.valuesA()).containsExactly(first.valuesA());
        assertThat(again.valuesB()).containsExactly(first.valuesB());
        assertThat(other.valuesA()).isNotEqualTo(first.valuesA());
    }

    @Test
    void testValuesAreCenteredAndSpreadLikeTheUniformDistribution() {
        float[] values = VeraProjections.draw(3, 64, 1000, 1).valuesA();
        double mean = 0;
        double square = 0;
        for (float value : values) {
            mean += value;
            square += value * value;
        }
        mean /= values.length;
        square /= values.length;
        double bound = Math.sqrt(6.0 / 1000);
        // U(±c) has mean 0 and variance c²/3; 64 000 draws put both within a few standard errors
        assertThat(mean).isBetween(-0.01 * bound, 0.01 * bound);
        assertThat(square).isBetween(0.98 * bound * bound / 3, 1.02 * bound * bound / 3);
    }

    private static byte[] readFixture() throws IOException {
        try (InputStream stream = TestVeraProjections.class.getResourceAsStream(PEFT_FIXTURE)) {
            assertThat(stream).as("test resource %s", PEFT_FIXTURE).isNotNull();
            return stream.readAllBytes();
        }
    }

    /** The float32 values of {@code name} in a safetensors file: an 8-byte header length, a JSON header, the data. */
    private static float[] tensor(byte[] file, String name, int count) {
        ByteBuffer buffer = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        int headerLength = (int) buffer.getLong(0);
        String header = new String(file, 8, headerLength, StandardCharsets.UTF_8);
        Matcher matcher = Pattern.compile("\"" + Pattern.quote(name) + "\"\\s*:\\s*\\{[^}]*\"dtype\"\\s*:\\s*\"F32\"[^}]*\"data_offsets\"\\s*:\\s*\\[(\\d+),\\s*(\\d+)]")
                .matcher(header);
        assertThat(matcher.find()).as("%s in the fixture's header %s", name, header).isTrue();
        int begin = Integer.parseInt(matcher.group(1));
        assertThat(Integer.parseInt(matcher.group(2)) - begin).isEqualTo(4 * count);
        float[] values = new float[count];
        for (int index = 0; index < count; index++) {
            values[index] = buffer.getFloat(8 + headerLength + begin + 4 * index);
        }
        return values;
    }

    private static int[] bits(float[] values) {
        int[] bits = new int[values.length];
        for (int index = 0; index < values.length; index++) {
            bits[index] = Float.floatToRawIntBits(values[index]);
        }
        return bits;
    }

    private static float largestMagnitude(float[] values) {
        float largest = 0;
        for (float value : values) {
            largest = Math.max(largest, Math.abs(value));
        }
        return largest;
    }
}

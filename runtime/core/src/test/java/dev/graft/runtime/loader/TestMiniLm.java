package dev.graft.runtime.loader;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.graft.runtime.model.BertConfig;
import dev.graft.runtime.model.BertModel;
import dev.graft.runtime.model.ModelAssertions;
import dev.graft.runtime.onnx.OnnxModel;
import dev.graft.spi.Site;
import dev.graft.spi.SiteKind;

import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

final class TestMiniLm {
    private static final List<String> SENTENCES = List.of(
            "Hello world.",
            "The quick brown fox jumps over the lazy dog near the quiet riverbank at dawn.",
            "Parameter-efficient fine-tuning adapts large models cheaply.");
    private static final String PAIR_FIRST = "How do adapters work?";
    private static final String PAIR_SECOND = "They add a few trainable weights to a frozen network.";

    @Test
    void testLastHiddenStateEqualsOnnxRuntimeOnRealSentences() throws Exception {
        try (NDManager manager = NDManager.newBaseManager(); LoadedModel loaded = MiniLm.load(manager)) {
            HuggingFaceTokenizer tokenizer = loaded.tokenizer().orElseThrow();
            Encoding[] singles = tokenizer.batchEncode(SENTENCES);
            Encoding pair = tokenizer.encode(PAIR_FIRST, PAIR_SECOND);
            int sequence = Math.max(singles[0].getIds().length, pair.getIds().length);
            long[][] ids = new long[4][sequence];
            long[][] mask = new long[4][sequence];
            long[][] types = new long[4][sequence];
            for (int example = 0; example < 4; example++) {
                Encoding encoding = example < 3 ? singles[example] : pair;
                System.arraycopy(encoding.getIds(), 0, ids[example], 0, encoding.getIds().length);
                System.arraycopy(encoding.getAttentionMask(), 0, mask[example], 0, encoding.getAttentionMask().length);
                System.arraycopy(encoding.getTypeIds(), 0, types[example], 0, encoding.getTypeIds().length);
            }
            assertThat(realLengths(mask)).as("different lengths, so the batch is padded").doesNotHaveDuplicates();
            assertThat(types[3]).contains(1L);

            NDList output = loaded.model().forward(new ParameterStore(manager, false),
                    new NDList(manager.create(ids), manager.create(mask), manager.create(types)), false);
            assertThat(output).hasSize(1);
            assertThat(output.get(0).getShape()).isEqualTo(new Shape(4, sequence, 384));
            float[] ours = output.get(0).toFloatArray();
            float[][][] expected = onnxRuntime(ids, mask, types);

            double maximum = ModelAssertions.maximumDifference(ours, widened(expected), realTokens(mask));
            System.out.printf("all-MiniLM-L6-v2: max |last_hidden_state - ONNX Runtime| over real tokens = %.3e%n", maximum);
            assertThat(maximum).isLessThan(1e-4);
        }
    }

    @Test
    void testTheDefaultIsAllMiniLmL6V2WithHuggingFaceSites() {
        try (NDManager manager = NDManager.newBaseManager(); LoadedModel loaded = MiniLm.load(manager)) {
            BertModel model = (BertModel) loaded.model();
            BertConfig config = model.config();
            assertThat(config).isEqualTo(new BertConfig(30522, 384, 6, 12, 1536, 512, 2, config.layerNormEps(), false, 0.1, 0.1));
            assertThat(config.layerNormEps()).as("read from the graph's LayerNorm constants").isCloseTo(1e-12, org.assertj.core.data.Offset.offset(1e-18));
            assertThat(model.sites().stream().filter(site -> site.kind() == SiteKind.LINEAR).map(Site::name))
                    .hasSize(36).contains("encoder.layer.5.attention.self.value", "encoder.layer.0.output.dense");
            long parameters = model.stateDict().values().stream().mapToLong(NDArray::size).sum();
            assertThat(parameters).isEqualTo(22_565_376L);
            assertThat(model.context().tokenize("Hello world")).containsExactly(7592, 2088);
        }
    }

    @Test
    void testEveryOnnxWeightFindsItsHuggingFaceKey() throws IOException {
        OnnxModel onnx;
        try (InputStream stream = getClass().getClassLoader().getResourceAsStream(MiniLm.MODEL_RESOURCE)) {
            onnx = OnnxModel.read(stream, MiniLm.MODEL_RESOURCE);
        }
        assertThat(onnx.producerName()).isEqualTo("pytorch");
        assertThat(onnx.inputs()).containsExactly("input_ids", "attention_mask", "token_type_ids");
        assertThat(onnx.outputs()).containsExactly("last_hidden_state");
        assertThat(onnx.initializers()).hasSize(102);
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> weights = OnnxBertWeights.stateDict(onnx, manager);
            BertConfig config = OnnxBertWeights.config(onnx, MiniLm.ATTENTION_HEADS, MiniLm.LAYER_NORM_EPS);
            assertThat(weights.keySet()).containsExactlyInAnyOrderElementsOf(dev.graft.runtime.model.BertWeights.shapes(config).keySet());
            assertThat(weights.get("encoder.layer.0.attention.self.query.weight").getShape()).isEqualTo(new Shape(384, 384));
            assertThat(weights.get("encoder.layer.0.intermediate.dense.weight").getShape()).isEqualTo(new Shape(1536, 384));
            float[] stored = onnx.initializer("onnx::MatMul_798").toFloatArray();
            float[] mapped = weights.get("encoder.layer.0.intermediate.dense.weight").toFloatArray();
            assertThat(mapped[1 * 384 + 2]).as("weight[out=1][in=2] is the ONNX MatMul's [in=2][out=1]").isEqualTo(stored[2 * 1536 + 1]);
        }
    }

    private static float[][][] onnxRuntime(long[][] ids, long[][] mask, long[][] types) throws IOException, OrtException {
        byte[] model;
        try (InputStream stream = TestMiniLm.class.getClassLoader().getResourceAsStream(MiniLm.MODEL_RESOURCE)) {
            model = stream.readAllBytes();
        }
        OrtEnvironment environment = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
                OrtSession session = environment.createSession(model, options);
                OnnxTensor idTensor = OnnxTensor.createTensor(environment, ids);
                OnnxTensor maskTensor = OnnxTensor.createTensor(environment, mask);
                OnnxTensor typeTensor = OnnxTensor.createTensor(environment, types);
                OrtSession.Result result = session.run(Map.of("input_ids", idTensor, "attention_mask", maskTensor, "token_type_ids", typeTensor))) {
            return (float[][][]) result.get(0).getValue();
        }
    }

    private static List<Integer> realLengths(long[][] mask) {
        return java.util.Arrays.stream(mask).map(row -> (int) java.util.Arrays.stream(row).sum()).toList();
    }


    private static int[][] realTokens(long[][] mask) {
        int[][] real = new int[mask.length][];
        for (int example = 0; example < mask.length; example++) {
            real[example] = new int[mask[example].length];
            for (int position = 0; position < mask[example].length; position++) {
                real[example][position] = (int) mask[example][position];
            }
        }
        return real;
    }

    private static double[][][] widened(float[][][] values) {
        double[][][] widened = new double[values.length][][];
        for (int example = 0; example < values.length; example++) {
            widened[example] = new double[values[example].length][];
            for (int position = 0; position < values[example].length; position++) {
                widened[example][position] = new double[values[example][position].length];
                for (int unit = 0; unit < values[example][position].length; unit++) {
                    widened[example][position][unit] = values[example][position][unit];
                }
            }
        }
        return widened;
    }
}

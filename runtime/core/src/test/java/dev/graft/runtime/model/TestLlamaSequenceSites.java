package dev.graft.runtime.model;

import static dev.graft.runtime.model.ModelAssertions.assertClose;
import static dev.graft.runtime.model.ModelAssertions.maximumDifference;
import static dev.graft.runtime.model.ModelAssertions.plain;
import static java.util.Objects.requireNonNull;
import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import dev.graft.runtime.compose.Attachment;
import dev.graft.runtime.compose.Composition;
import dev.graft.runtime.peft.Adapter;
import dev.graft.runtime.peft.AdapterSpec;
import dev.graft.runtime.peft.PeftModel;
import dev.graft.runtime.targeting.TargetRules;
import dev.graft.spi.AttentionSite;
import dev.graft.spi.MethodDescriptor;
import dev.graft.spi.MethodInstance;
import dev.graft.spi.MethodModule;
import dev.graft.spi.MethodOptions;
import dev.graft.spi.ModelContext;
import dev.graft.spi.OptionSchema;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.Site;
import dev.graft.spi.SiteKind;
import dev.graft.spi.SpiVersion;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The attention (prefix) and embedding (prompt) sites of the DJL Llama against {@link LlamaReference}: virtual keys
 * and values sit before the rotated real keys, are always visible, and shift real positions by their number; virtual
 * token embeddings are prepended and only real positions are returned. A gated prefix reads the hidden size.
 */
final class TestLlamaSequenceSites {
    private static final long[][] IDS = {{5, 17, 99, 3, 42, 7}, {0, 0, 64, 12, 127, 1}};
    private static final int[][] MASK = {{1, 1, 1, 1, 1, 1}, {0, 0, 1, 1, 1, 1}};
    private static final long[] PROMPT_IDS = {9, 33, 120};

    private final LlamaConfig config = LlamaConfig.tiny();
    private NDManager manager;
    private Map<String, double[]> plain;
    private LlamaForCausalLM model;

    @BeforeEach
    void createModel() {
        manager = NDManager.newBaseManager();
        Map<String, NDArray> weights = LlamaWeights.random(config, manager, 42);
        plain = plain(weights);
        model = LlamaForCausalLM.create(config, weights, manager, null);
    }

    @AfterEach
    void closeModel() {
        manager.close();
    }

    @Test
    void testPrefixKeysAndValuesMatchReferenceWithShiftedPositions() {
        int virtual = 3;
        double[][][][] keys = random(virtual, 11);
        double[][][][] values = random(virtual, 12);
        attachPrefix("prefix", keys, values);

        float[] logits = logits(IDS, MASK);

        double[][][] expected = new LlamaReference(config, plain).logits(IDS, MASK, virtual, keys, values);
        assertClose(logits, expected, MASK);
        double[][][] unshifted = new LlamaReference(config, plain).logits(IDS, MASK, 0, keys, values);
        assertThat(maximumDifference(logits, unshifted, MASK)).as("positions must be shifted by the prefix length").isGreaterThan(1e-3);
    }

    @Test
    void testTwoPrefixesAreConcatenatedInAttachmentOrder() {
        double[][][][] firstKeys = random(2, 21);
        double[][][][] firstValues = random(2, 22);
        double[][][][] secondKeys = random(3, 23);
        double[][][][] secondValues = random(3, 24);
        attachPrefix("first", firstKeys, firstValues);
        attachPrefix("second", secondKeys, secondValues);

        float[] logits = logits(IDS, MASK);

        double[][][] expected = new LlamaReference(config, plain)
                .logits(IDS, MASK, 5, concatenate(firstKeys, secondKeys), concatenate(firstValues, secondValues));
        assertClose(logits, expected, MASK);
    }

    @Test
    void testPromptEqualsPrependedTokensAndReturnsOnlyRealPositions() {
        attachPrompt(PROMPT_IDS);

        float[] logits = logits(IDS, MASK);

        assertThat(logits).hasSize(2 * 6 * config.vocabularySize());
        double[][][] expected = realPositions(new LlamaReference(config, plain).logits(withPrompt(IDS), withPromptMask(MASK), 0, null, null));
        assertClose(logits, expected, MASK);
    }

    @Test
    void testPromptAndPrefixTogetherShiftPositionsByBoth() {
        double[][][][] keys = random(2, 31);
        double[][][][] values = random(2, 32);
        attachPrefix("prefix", keys, values);
        attachPrompt(PROMPT_IDS);

        float[] logits = logits(IDS, MASK);

        double[][][] expected = realPositions(new LlamaReference(config, plain).logits(withPrompt(IDS), withPromptMask(MASK), 2, keys, values));
        assertClose(logits, expected, MASK);
    }

    @Test
    void testGatedPrefixReadsTheHiddenSizeWhenHeadsAreWider() {
        // 4 heads of 16 on a hidden size of 32, as configs with an explicit head_dim (Mistral-Nemo: 32·128 on 5120).
        LlamaConfig wideHeads = new LlamaConfig(50, 32, 48, 2, 4, 2, 16, 1e-6, 10000.0, false, false, false);
        NDManager wideManager = manager.newSubManager();
        PeftModel peft = new PeftModel(LlamaForCausalLM.create(wideHeads, LlamaWeights.random(wideHeads, wideManager, 3), wideManager, null));
        Adapter adapter = peft.addAdapter(new AdapterSpec("gated", Map.of(), TargetRules.fromConfig(Map.of()), Composition.GATED),
                new FixedPrefixMethod(random(2, 41), random(2, 42)));

        assertThat(adapter.attachments().values()).allSatisfy(attachment ->
                assertThat(attachment.gate().orElseThrow().getParameters().get("weight").getArray().getShape()).isEqualTo(new Shape(1, 32)));
        peft.setGateRecording(true);
        try (NDManager batch = manager.newSubManager()) {
            NDArray logits = peft.forward(new ParameterStore(batch, false), new NDList(batch.create(new long[][] {{1, 2, 3, 4}})), false).singletonOrThrow();
            assertThat(logits.getShape()).isEqualTo(new Shape(1, 4, 50));
        }
        assertThat(peft.gateReadings()).hasSize(2).allSatisfy(reading -> assertThat(reading.values()[0]).isStrictlyBetween(0f, 1f));
    }

    private float[] logits(long[][] ids, int[][] mask) {
        try (NDManager batch = manager.newSubManager()) {
            NDArray output = model.forward(new ParameterStore(batch, false), new NDList(batch.create(ids), batch.create(mask)), false).singletonOrThrow();
            assertThat(output.getShape()).isEqualTo(new Shape(ids.length, ids[0].length, model.config().vocabularySize()));
            return output.toFloatArray();
        }
    }

    private void attachPrefix(String adapterName, double[][][][] keys, double[][][][] values) {
        for (Site site : model.sites()) {
            if (site.kind() == SiteKind.ATTENTION) {
                AttentionSite attention = (AttentionSite) site;
                int layer = attention.layerIndex();
                model.attachments(site).add(new Attachment(adapterName, "fixed-prefix", new FixedModules.Prefix(attention, keys[layer], values[layer]), null));
            }
        }
    }

    /** Attaches a prompt whose virtual tokens are the embeddings of {@code tokenIds}. */
    private void attachPrompt(long[] tokenIds) {
        double[][] rows = embeddingRows(plain.get("model.embed_tokens.weight"), config.hiddenSize(), tokenIds);
        Site embedding = model.sites().stream().filter(site -> site.kind() == SiteKind.EMBEDDING).findFirst().orElseThrow();
        model.attachments(embedding).add(new Attachment("prompt", "fixed-prompt", new FixedModules.Prompt(embedding, rows), null));
    }

    /** Per layer {@code [kvHeads][n][headDim]} values drawn uniformly from (−1, 1). */
    private double[][][][] random(int virtual, long seed) {
        Random random = new Random(seed);
        double[][][][] values = new double[config.numLayers()][config.numKeyValueHeads()][virtual][config.headDim()];
        for (double[][][] layer : values) {
            for (double[][] head : layer) {
                for (double[] token : head) {
                    for (int dim = 0; dim < token.length; dim++) {
                        token[dim] = (float) (random.nextDouble() * 2 - 1);
                    }
                }
            }
        }
        return values;
    }

    private static double[][][][] concatenate(double[][][][] first, double[][][][] second) {
        double[][][][] joined = new double[first.length][first[0].length][][];
        for (int layer = 0; layer < first.length; layer++) {
            for (int head = 0; head < first[layer].length; head++) {
                double[][] tokens = Arrays.copyOf(first[layer][head], first[layer][head].length + second[layer][head].length);
                System.arraycopy(second[layer][head], 0, tokens, first[layer][head].length, second[layer][head].length);
                joined[layer][head] = tokens;
            }
        }
        return joined;
    }

    private static double[][] embeddingRows(double[] table, int hidden, long[] ids) {
        double[][] rows = new double[ids.length][hidden];
        for (int token = 0; token < ids.length; token++) {
            for (int unit = 0; unit < hidden; unit++) {
                rows[token][unit] = table[(int) ids[token] * hidden + unit];
            }
        }
        return rows;
    }

    private static long[][] withPrompt(long[][] ids) {
        long[][] joined = new long[ids.length][];
        for (int example = 0; example < ids.length; example++) {
            joined[example] = new long[PROMPT_IDS.length + ids[example].length];
            System.arraycopy(PROMPT_IDS, 0, joined[example], 0, PROMPT_IDS.length);
            System.arraycopy(ids[example], 0, joined[example], PROMPT_IDS.length, ids[example].length);
        }
        return joined;
    }

    private static int[][] withPromptMask(int[][] mask) {
        int[][] joined = new int[mask.length][];
        for (int example = 0; example < mask.length; example++) {
            joined[example] = new int[PROMPT_IDS.length + mask[example].length];
            Arrays.fill(joined[example], 0, PROMPT_IDS.length, 1);
            System.arraycopy(mask[example], 0, joined[example], PROMPT_IDS.length, mask[example].length);
        }
        return joined;
    }

    private static double[][][] realPositions(double[][][] logits) {
        double[][][] real = new double[logits.length][][];
        for (int example = 0; example < logits.length; example++) {
            real[example] = Arrays.copyOfRange(logits[example], PROMPT_IDS.length, logits[example].length);
        }
        return real;
    }

    /** A prefix method whose module at layer i gives {@code keys[i]} and {@code values[i]}, without parameters. */
    private static final class FixedPrefixMethod implements PeftMethod {
        private final double[][][][] keys;
        private final double[][][][] values;

        FixedPrefixMethod(double[][][][] keys, double[][][][] values) {
            this.keys = requireNonNull(keys, "keys is null");
            this.values = requireNonNull(values, "values is null");
        }

        @Override
        public MethodDescriptor descriptor() {
            return new MethodDescriptor("fixed-prefix", "1.0.0", SpiVersion.CURRENT, "FIXED_PREFIX", Set.of(SiteKind.ATTENTION), dev.graft.spi.PrefixModule.class, OptionSchema.of(),
                    Map.of(), "fixed virtual keys and values, for testing");
        }

        @Override
        public MethodInstance create(MethodOptions options, ModelContext model) {
            return new MethodInstance() {
                @Override
                public MethodModule attach(Site site) {
                    return new FixedModules.Prefix(site, keys[site.layerIndex()], values[site.layerIndex()]);
                }

                @Override
                public long trainableParameterCount(List<Site> sites) {
                    return 0;
                }
            };
        }
    }
}

package dev.graft.runtime.task;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.graft.runtime.model.BertConfig;
import dev.graft.runtime.model.BertModel;
import dev.graft.runtime.model.BertWeights;
import dev.graft.runtime.model.LlamaConfig;
import dev.graft.runtime.model.LlamaForCausalLM;
import dev.graft.runtime.model.LlamaWeights;
import dev.graft.runtime.peft.PeftModel;

import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

final class TestTaskModel {
    private NDManager manager;

    @BeforeEach
    void open() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void close() {
        manager.close();
    }

    @Test
    void testClassificationLossIsTheMeanCrossEntropy() {
        TaskModel task = TaskModel.classification(bert(), new ClassificationHead(32, List.of("a", "b", "c"), Pooling.MEAN, 0f).initializeIn(manager));
        NDArray logits = manager.create(new float[][] {{1f, 2f, 3f}, {0f, 0f, 5f}});
        TaskModel.LossSum sum = task.lossSum(logits, manager.create(new long[] {0, 2}));
        double first = -Math.log(Math.exp(1) / (Math.exp(1) + Math.exp(2) + Math.exp(3)));
        double second = -Math.log(Math.exp(5) / (2 + Math.exp(5)));
        assertThat((double) sum.total().getFloat()).isCloseTo(first + second, offset(1e-5));
        assertThat(sum.count().getFloat()).isEqualTo(2f);
    }

    @Test
    void testCausalLossShiftsAndSkipsIgnoredTargets() {
        TaskModel task = TaskModel.causalLm(llama());
        // vocabulary 128; logits at position t predict the target at t + 1
        float[] values = new float[3 * 128];
        values[7] = 4f;
        values[128 + 9] = 2f;
        NDArray logits = manager.create(values, new Shape(1, 3, 128));
        NDArray targets = manager.create(new long[][] {{5, 7, TaskModel.IGNORED}});
        TaskModel.LossSum sum = task.lossSum(logits, targets);
        double expected = -Math.log(Math.exp(4) / (127 + Math.exp(4)));
        assertThat((double) sum.total().getFloat()).isCloseTo(expected, offset(1e-5));
        assertThat(sum.count().getFloat()).isEqualTo(1f);
    }

    @Test
    void testMeanPoolingIgnoresPadding() {
        NDArray hidden = manager.create(new float[] {1f, 2f, 3f, 4f, 100f, 100f}, new Shape(1, 3, 2));
        NDArray pooled = Pooling.MEAN.pool(new NDList(hidden), manager.create(new long[][] {{1, 1, 0}}));
        assertThat(pooled.getShape()).isEqualTo(new Shape(1, 2));
        assertThat(pooled.toFloatArray()).containsExactly(2f, 3f);
        assertThat(Pooling.CLS.pool(new NDList(hidden), manager.create(new long[][] {{1, 1, 0}})).toFloatArray()).containsExactly(1f, 2f);
    }

    @Test
    void testAutoPoolingFollowsThePooler() {
        assertThat(Pooling.resolve("auto", true)).isEqualTo(Pooling.POOLER);
        assertThat(Pooling.resolve("auto", false)).isEqualTo(Pooling.MEAN);
        assertThatThrownBy(() -> Pooling.resolve("pooler", false)).hasMessage("task.pooling is pooler, but this model has no pooler (pooler.dense); use mean or cls");
    }

    @Test
    void testTheHeadIsInitialisedAsHuggingFaceDoes() {
        // 2 × 1,024 draws: the sample deviation is within 5 % of 0.02 with near certainty, whatever the random state
        ai.djl.engine.Engine.getInstance().setRandomSeed(7);
        ClassificationHead head = new ClassificationHead(1024, List.of("a", "b"), Pooling.POOLER, 0.1f).initializeIn(manager);
        float[] weight = head.state().get("classifier.weight").toFloatArray();
        double sumOfSquares = 0;
        for (float value : weight) {
            sumOfSquares += value * value;
        }
        assertThat(Math.sqrt(sumOfSquares / weight.length)).as("standard deviation of N(0, 0.02)").isCloseTo(0.02, offset(0.002));
        assertThat(head.state().get("classifier.bias").toFloatArray()).containsOnly(0f);
        assertThat(head.state().keySet()).containsExactly("classifier.weight", "classifier.bias");
    }

    @Test
    void testTaskTypeFollowsTheModel() {
        assertThat(TaskType.resolve(null, "llama")).isEqualTo(TaskType.CAUSAL_LM);
        assertThat(TaskType.resolve(null, "bert")).isEqualTo(TaskType.SEQUENCE_CLASSIFICATION);
        assertThatThrownBy(() -> TaskType.resolve("causal-lm", "bert"))
                .hasMessage("task.type causal-lm needs a Llama-family decoder; this recipe's model is a bert encoder: use sequence-classification");
        assertThatThrownBy(() -> TaskType.resolve("regression", "bert")).hasMessage("unknown task.type 'regression'; use sequence-classification or causal-lm");
    }

    private PeftModel bert() {
        BertConfig config = BertConfig.tiny();
        return new PeftModel(BertModel.create(config, BertWeights.random(config, manager, 1), manager, null));
    }

    private PeftModel llama() {
        LlamaConfig config = LlamaConfig.tiny();
        return new PeftModel(LlamaForCausalLM.create(config, LlamaWeights.random(config, manager, 1), manager, null));
    }
}

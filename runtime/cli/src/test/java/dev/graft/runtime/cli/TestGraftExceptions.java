package dev.graft.runtime.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.graft.runtime.data.DataException;
import dev.graft.runtime.error.GraftException;
import dev.graft.runtime.format.SafetensorsException;
import dev.graft.runtime.loader.ModelLoadException;
import dev.graft.runtime.onnx.OnnxFormatException;
import dev.graft.runtime.recipe.RecipeException;
import dev.graft.runtime.store.StoreException;
import dev.graft.runtime.targeting.TargetingException;
import dev.graft.runtime.train.TrainingDivergedException;
import org.junit.jupiter.api.Test;

/** Every runtime error shares one base, and its kind is the exit code the CLI gave it before the base existed. */
final class TestGraftExceptions {
    @Test
    void badInputIsWhatTheUserGave() {
        assertThat(new RecipeException("recipe")).isInstanceOf(GraftException.class).matches(GraftException::isBadInput);
        assertThat(new DataException("data")).matches(GraftException::isBadInput);
        assertThat(new StoreException("store")).matches(GraftException::isBadInput);
        assertThat(new ModelLoadException("model")).matches(GraftException::isBadInput);
    }

    @Test
    void failuresAreWhatWentWrongWhileWorking() {
        assertThat(new SafetensorsException("file").kind()).isEqualTo(GraftException.Kind.FAILURE);
        assertThat(new OnnxFormatException("file").kind()).isEqualTo(GraftException.Kind.FAILURE);
        assertThat(new TargetingException("target").kind()).isEqualTo(GraftException.Kind.FAILURE);
        assertThat(new TrainingDivergedException("diverged").kind()).isEqualTo(GraftException.Kind.FAILURE);
    }

    @Test
    void causeAndMessageAreKept() {
        IllegalStateException cause = new IllegalStateException("inner");
        StoreException exception = new StoreException("outer", cause);
        assertThat(exception).hasMessage("outer").hasCause(cause);
    }
}

package dev.graft.runtime.train;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import dev.graft.runtime.plugin.MethodRegistry;
import dev.graft.runtime.recipe.OutputSection;
import dev.graft.runtime.recipe.Recipe;

import java.nio.file.Files;
import java.nio.file.Path;

/** Starting and resuming training runs: the folder checked first, then the run set up from the recipe and trained. */
public final class Runs {
    private Runs() {}

    /**
     * Trains {@code recipe} into {@code folder}: the folder is prepared (created, checked writable, refused when it holds
     * files unless {@code overwrite}) before anything is loaded, the recipe is recorded with the folder as its output.
     */
    public static RunResult start(Recipe recipe, RunFolder folder, boolean overwrite, MethodRegistry registry, FineTuner.Options options) {
        requireNonNull(recipe, "recipe is null");
        folder.prepareNewRun(overwrite);
        Recipe resolved = recipe.withOutput(new OutputSection(folder.root().toString(), recipe.output().overwrite()));
        try (RunSetup setup = RunSetup.create(resolved, registry)) {
            return FineTuner.train(setup, folder, options);
        }
    }

    /** Continues the run in {@code folder} from its newest checkpoint, with the run's own {@code recipe.yaml}. */
    public static RunResult resume(RunFolder folder, MethodRegistry registry, FineTuner.Options options) {
        Path recipeFile = folder.resolve(RunFolder.RECIPE);
        if (!Files.isRegularFile(recipeFile)) {
            throw new IllegalArgumentException(format("%s is not a Graft run folder: it has no %s. --resume takes the output folder of an earlier 'graft train'",
                    folder.root(), RunFolder.RECIPE));
        }
        folder.checkWritable();
        folder.recoverInterruptedWrites();
        try (RunSetup setup = RunSetup.create(Recipe.read(recipeFile), registry)) {
            return FineTuner.resume(setup, folder, options);
        }
    }
}

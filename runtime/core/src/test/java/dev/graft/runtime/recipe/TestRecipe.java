package dev.graft.runtime.recipe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.graft.runtime.compose.Average;
import dev.graft.runtime.compose.Fuse;
import dev.graft.runtime.compose.Stack;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

class TestRecipe {
    private static final String UNIPELT = """
            model: minilm                   # or a model folder, relative to the recipe
            adapters:
              - name: lowrank
                method: lora
                composition: gated          # sum (default) or gated
                target_modules: [query, value]
                options: {r: 8, lora_alpha: 2}
              - {name: bottleneck, method: adapter, composition: gated}
              - {name: virtual, method: prefix, composition: gated, options: {num_virtual_tokens: 10}}
            """;

    @TempDir
    Path folder;

    private Path write(String name, String text) throws IOException {
        Path file = folder.resolve(name);
        Files.writeString(file, text);
        return file;
    }

    @Test
    void testAbsentSectionsTakeEveryDefault() throws IOException {
        Recipe recipe = Recipe.read(write("unipelt.yaml", UNIPELT));
        assertThat(recipe.model()).isEqualTo("minilm");
        assertThat(recipe.adapters()).extracting(RecipeAdapter::name).containsExactly("lowrank", "bottleneck", "virtual");
        assertThat(recipe.adapters().get(0).options()).isEqualTo(Map.of("r", 8, "lora_alpha", 2));
        assertThat(recipe.task()).isEqualTo(new TaskSection(null, null, "auto", 0.1));
        assertThat(recipe.data()).isEqualTo(new DataSection(null, null, 0.1, "auto", "text", "label", "prompt", "completion", 128));
        assertThat(recipe.training()).isEqualTo(new TrainingSection(3, 0, 16, 32, 1, 5e-4, 0.0, 0.9, 0.999, 1e-8, "linear", 0, 0.0, 1.0, 42, 0, 0, "auto", 0, 2, 10));
        assertThat(recipe.output()).isEqualTo(new OutputSection(null, false));
        assertThat(recipe.task()).isEqualTo(TaskSection.defaults());
        assertThat(recipe.data()).isEqualTo(DataSection.defaults());
        assertThat(recipe.training()).isEqualTo(TrainingSection.defaults());
        assertThat(recipe.output()).isEqualTo(OutputSection.defaults());
    }

    @Test
    void testGivenFieldsReplaceDefaultsAndPathsResolveAgainstTheRecipesFolder() throws IOException {
        Files.createDirectories(folder.resolve("sub"));
        Recipe recipe = Recipe.read(write("sub/spam.yaml", """
                model: ../models/tiny
                task:
                  type: sequence-classification
                  labels: [ham, spam]
                data:
                  train: data/train.jsonl
                  max_length: 64
                training:
                  epochs: 2
                  learning_rate: 2.0e-3
                  lr_scheduler: cosine
                output:
                  dir: ../runs/spam
                  overwrite: true
                """));
        assertThat(recipe.model()).isEqualTo(folder.resolve("models/tiny").toString());
        assertThat(recipe.task()).isEqualTo(new TaskSection("sequence-classification", List.of("ham", "spam"), "auto", 0.1));
        assertThat(recipe.data().train()).isEqualTo(folder.resolve("sub/data/train.jsonl").toString());
        assertThat(recipe.data().validation()).isNull();
        assertThat(recipe.data().maxLength()).isEqualTo(64);
        assertThat(recipe.training().epochs()).isEqualTo(2);
        assertThat(recipe.training().learningRate()).isEqualTo(2e-3);
        assertThat(recipe.training().lrScheduler()).isEqualTo("cosine");
        assertThat(recipe.training().batchSize()).isEqualTo(16);
        assertThat(recipe.output()).isEqualTo(new OutputSection(folder.resolve("runs/spam").toString(), true));
    }

    @Test
    void testJsonRecipesRead() throws IOException {
        Recipe recipe = Recipe.read(write("recipe.json", "{\"model\": \"minilm\", \"adapters\": [{\"name\": \"a\", \"method\": \"lora\"}], \"training\": {\"seed\": 7}}"));
        assertThat(recipe.adapters()).hasSize(1);
        assertThat(recipe.training().seed()).isEqualTo(7);
    }

    @Test
    void testTheUniPeltPresetExpandsToAdapterHubsUniPelt() throws IOException {
        Recipe recipe = Recipe.read(write("unipelt.yaml", """
                model: minilm
                adapters:
                  - {name: first, method: ia3}
                  - preset: unipelt
                  - {name: last, method: vera}
                """));
        assertThat(recipe.adapters()).extracting(RecipeAdapter::name).containsExactly("first", "unipelt_prefix", "unipelt_adapter", "unipelt_lora", "last");
        assertThat(recipe.adapters()).extracting(RecipeAdapter::fromPreset).containsExactly(null, "unipelt", "unipelt", "unipelt", null);
        RecipeAdapter prefix = recipe.adapters().get(1);
        RecipeAdapter bottleneck = recipe.adapters().get(2);
        RecipeAdapter lora = recipe.adapters().get(3);
        assertThat(List.of(prefix.method(), bottleneck.method(), lora.method())).containsExactly("prefix", "adapter", "lora");
        assertThat(List.of(prefix.composition(), bottleneck.composition(), lora.composition())).containsOnly("gated");
        assertThat(prefix.options()).containsExactly(Map.entry("num_virtual_tokens", 10), Map.entry("prefix_projection", true), Map.entry("encoder_hidden_size", 512));
        assertThat(bottleneck.options()).containsExactly(Map.entry("config", "pfeiffer"), Map.entry("reduction_factor", 16));
        assertThat(lora.options()).containsExactly(Map.entry("r", 8));
        assertThat(lora.targetModules()).as("the method's default targets: query/value on BERT").isNull();
    }

    @Test
    void testEveryPartOfThePresetIsOverridable() throws IOException {
        Recipe recipe = Recipe.read(write("override.yaml", """
                model: minilm
                adapters:
                  - preset: unipelt
                    lora: {r: 4, target_modules: [query, key, value], name: low}
                    adapter: {options: {reduction_factor: 8}, composition: sum}
                    prefix: {num_virtual_tokens: 20, prefix_projection: false}
                """));
        RecipeAdapter prefix = recipe.adapters().get(0);
        RecipeAdapter bottleneck = recipe.adapters().get(1);
        RecipeAdapter lora = recipe.adapters().get(2);
        assertThat(prefix.options()).containsExactly(Map.entry("num_virtual_tokens", 20), Map.entry("prefix_projection", false), Map.entry("encoder_hidden_size", 512));
        assertThat(bottleneck.options()).containsExactly(Map.entry("config", "pfeiffer"), Map.entry("reduction_factor", 8));
        assertThat(bottleneck.composition()).isEqualTo("sum");
        assertThat(lora.name()).isEqualTo("low");
        assertThat(lora.options()).containsExactly(Map.entry("r", 4));
        assertThat(lora.targetModules()).isEqualTo(List.of("query", "key", "value"));
        assertThat(Recipe.read(write("written.yaml", RecipeWriter.toYaml(recipe)))).as("the written expansion reads back equal").isEqualTo(recipe);
    }

    @Test
    void testAnUnknownPresetOrPartIsRefusedAtItsLineWithTheNearestName() throws IOException {
        Path unknown = write("unknown.yaml", """
                model: minilm
                adapters:
                  - {name: a, method: lora}
                  - preset: unipel
                """);
        assertThatThrownBy(() -> Recipe.read(unknown)).isInstanceOf(RecipeException.class)
                .hasMessage("recipe " + unknown + " line 4, column 5: unknown preset 'unipel' in adapters[1]; did you mean 'unipelt'? Presets: unipelt");
        Path part = write("part.yaml", """
                model: minilm
                adapters:
                  - preset: unipelt
                    loar: {r: 4}
                """);
        assertThatThrownBy(() -> Recipe.read(part)).isInstanceOf(RecipeException.class)
                .hasMessage("recipe " + part + " line 4, column 5: unknown field 'loar' in adapters[0] (preset unipelt); did you mean 'lora'? "
                        + "Fields of a preset entry: preset, prefix, adapter, lora");
        Path composition = write("composition.yaml", """
                model: minilm
                adapters:
                  - {name: a, method: lora}
                  - preset: unipelt
                    lora:
                      name: [a, b]
                """);
        assertThatThrownBy(() -> Recipe.read(composition)).isInstanceOf(RecipeException.class)
                .hasMessage("recipe " + composition + " line 6, column 7: adapters[3].name must be a string, found array");
    }

    @Test
    void testAnUnknownFieldIsReportedAtItsOwnLineWithTheNearestName() throws IOException {
        Path file = write("train.yaml", """
                model: minilm
                adapters:
                  - {name: a, method: lora}
                training:
                  learning_rat: 1.0e-3
                  epochs: 2
                output:
                  dir: out
                """);
        assertThatThrownBy(() -> Recipe.read(file)).isInstanceOf(RecipeException.class).hasMessage("recipe " + file + " line 5, column 3: "
                + "unknown field 'learning_rat' in training; did you mean 'learning_rate'? Fields of training: epochs, max_steps, batch_size, eval_batch_size, "
                + "gradient_accumulation_steps, learning_rate, weight_decay, adam_beta1, adam_beta2, adam_epsilon, lr_scheduler, warmup_steps, warmup_ratio, "
                + "max_grad_norm, seed, eval_every, early_stopping_patience, metric_for_best, checkpoint_every, keep_checkpoints, log_every");
    }

    @Test
    void testUnknownFieldsInEverySection() throws IOException {
        Path task = write("task.yaml", "model: minilm\ntask:\n  poling: mean\n");
        assertThatThrownBy(() -> Recipe.read(task)).hasMessageStartingWith("recipe " + task + " line 3, column 3: unknown field 'poling' in task; did you mean 'pooling'? Fields of task: type, labels, pooling, classifier_dropout");
        Path data = write("data.yaml", "model: minilm\ndata: {train: a.jsonl, text_feild: body}\n");
        assertThatThrownBy(() -> Recipe.read(data)).hasMessageStartingWith("recipe " + data + " line 2, column 24: unknown field 'text_feild' in data; did you mean 'text_field'?");
        Path output = write("output.yaml", "model: minilm\noutput:\n\n  directory: runs/x\n");
        assertThatThrownBy(() -> Recipe.read(output)).hasMessage("recipe " + output + " line 4, column 3: unknown field 'directory' in output. Fields of output: dir, overwrite");
        Path adapter = write("adapter.yaml", "model: minilm\nadapters:\n  - name: a\n    method: lora\n    target_module: [query]\n");
        assertThatThrownBy(() -> Recipe.read(adapter)).hasMessage("recipe " + adapter + " line 5, column 5: unknown field 'target_module' in adapters[0]; did you mean 'target_modules'? "
                + "Fields of adapters[0]: name, method, composition, target_modules, exclude_modules, layers_to_transform, layers_pattern, options, path, trainable, modules_to_save");
    }

    @Test
    void testACompositionBlockOverTheRecipesAdaptersReadsAndNonsenseIsRefusedInOneLine() throws IOException {
        String adapters = "model: minilm\nadapters:\n  - {name: a, method: adapter}\n  - {name: b, method: adapter}\n";
        Path average = write("average.yaml", adapters + "composition: {block: average, adapters: [a, b], weights: [0.7, 0.3]}\n");
        Recipe recipe = Recipe.read(average);
        assertThat(recipe.composition().toBlock(List.of("a", "b"))).isEqualTo(Average.of(List.of("a", "b"), List.of(0.7, 0.3)));
        Path fuse = write("fuse.yaml", adapters + "composition: {block: fuse, adapters: [a, b], name: ab}\n");
        assertThat(Recipe.read(fuse).composition().toBlock(List.of("a", "b"))).isEqualTo(Fuse.of("ab", List.of("a", "b")));
        Path stack = write("stack.yaml", adapters + "composition: {block: stack, adapters: [b, a]}\n");
        assertThat(Recipe.read(stack).composition().toBlock(List.of("a", "b"))).isEqualTo(Stack.of(List.of("b", "a")));
        assertThat(Recipe.read(write("none.yaml", adapters)).composition()).isNull();

        Path unknownField = write("field.yaml", adapters + "composition:\n  block: average\n  adapters: [a, b]\n  weight: [1, 2]\n");
        assertThatThrownBy(() -> Recipe.read(unknownField)).hasMessageStartingWith("recipe " + unknownField + " line 8, column 3: unknown field 'weight' in composition; did you mean 'weights'?");
        assertThatThrownBy(() -> new RecipeComposition("avg", List.of("a"), null, null).toBlock(List.of("a")))
                .isInstanceOf(RecipeException.class).hasMessage("composition: unknown block 'avg'; blocks: [average, stack, parallel, fuse]");
        assertThatThrownBy(() -> new RecipeComposition("stack", List.of("a", "c"), null, null).toBlock(List.of("a", "b")))
                .isInstanceOf(RecipeException.class).hasMessage("composition: the stack block names adapter 'c', which the recipe's adapters [a, b] do not define; did you mean 'a'?");
        assertThatThrownBy(() -> new RecipeComposition("stack", List.of("a", "b"), List.of(0.5, 0.5), null).toBlock(List.of("a", "b")))
                .isInstanceOf(RecipeException.class).hasMessage("composition: weights are for an average block only; a stack block takes none (remove weights)");
        assertThatThrownBy(() -> new RecipeComposition("average", List.of("a", "b"), null, "ab").toBlock(List.of("a", "b")))
                .isInstanceOf(RecipeException.class).hasMessage("composition: name is for a fuse block only (the fusion's name); a average block takes none (remove name)");
        assertThatThrownBy(() -> new RecipeComposition("average", List.of("a", "b"), List.of(1.0), null).toBlock(List.of("a", "b")))
                .isInstanceOf(RecipeException.class).hasMessage("composition: an average block needs one weight per adapter: 2 adapters [a, b], 1 weights [1.0]");
    }

    @Test
    void testALoadedAdapterNeedsNoMethodItsPathIsResolvedAndItIsFrozenByDefault() throws IOException {
        Path file = write("loaded.yaml", "model: minilm\nadapters:\n  - {name: a, path: runs/a/adapter/a}\n  - {name: b, path: /trained/b, trainable: true}\n"
                + "  - {name: c, method: lora}\n");
        List<RecipeAdapter> adapters = Recipe.read(file).adapters();
        assertThat(adapters.get(0).method()).isNull();
        assertThat(adapters.get(0).path()).isEqualTo(file.getParent().resolve("runs/a/adapter/a").toString());
        assertThat(adapters.get(0).isTrainable()).isFalse();
        assertThat(adapters.get(1).path()).isEqualTo("/trained/b");
        assertThat(adapters.get(1).isTrainable()).isTrue();
        assertThat(adapters.get(2).path()).isNull();
        assertThat(adapters.get(2).isTrainable()).isTrue();
        Path optioned = write("optioned.yaml", "model: minilm\nadapters:\n  - {name: a, path: /trained/a, target_modules: [query], options: {r: 4}}\n");
        assertThatThrownBy(() -> Recipe.read(optioned).adapters().get(0).checkLoaded()).isInstanceOf(RecipeException.class)
                .hasMessage("adapter 'a' loads the trained adapter in /trained/a, whose adapter_config.json decides its targets, options and composition; "
                        + "remove target_modules, options (or remove path to create a fresh adapter)");
    }

    @Test
    void testAMisspeltTopLevelFieldIsNamedBeforeTheMissingModel() throws IOException {
        Path file = write("typo.yaml", "# a comment\nmodle: minilm\n");
        assertThatThrownBy(() -> Recipe.read(file)).hasMessage("recipe " + file + " line 2, column 1: unknown field 'modle' at the top level; did you mean 'model'? "
                + "Fields at the top level: model, adapters, task, data, training, output, composition");
        Path missing = write("missing.yaml", "adapters: []\n");
        assertThatThrownBy(() -> Recipe.read(missing)).hasMessage("recipe " + missing + ": 'model' is missing; it names a Hugging Face model folder or minilm");
        Path empty = write("empty.yaml", "\n");
        assertThatThrownBy(() -> Recipe.read(empty)).hasMessage("recipe " + empty + " is empty; it needs at least 'model'");
        Path nameless = write("nameless.yaml", "model: minilm\nadapters:\n  - method: lora\n");
        assertThatThrownBy(() -> Recipe.read(nameless)).hasMessage("recipe " + nameless + " line 3, column 5: adapters[0] has no 'name'; every adapter needs a name and a method (graft methods lists them), "
                + "or a name and the path of a trained adapter folder");
    }

    @Test
    void testWrongTypesAndRangesNameTheLineTheFieldAndTheRule() throws IOException {
        Path words = write("words.yaml", "model: minilm\ntraining:\n  epochs: three\n");
        assertThatThrownBy(() -> Recipe.read(words)).hasMessage("recipe " + words + " line 3, column 3: training.epochs must be a whole number, found 'three'");
        Path fraction = write("fraction.yaml", "model: minilm\ntraining:\n  epochs: 2.5\n");
        assertThatThrownBy(() -> Recipe.read(fraction)).hasMessage("recipe " + fraction + " line 3, column 3: training.epochs must be a whole number, found '2.5'");
        Path negative = write("negative.yaml", "model: minilm\ntraining:\n  seed: 1\n  learning_rate: -1\n");
        assertThatThrownBy(() -> Recipe.read(negative)).hasMessage("recipe " + negative + " line 4, column 3: training.learning_rate must be > 0, found -1.0");
        Path scheduler = write("scheduler.yaml", "model: minilm\ntraining:\n  lr_scheduler: cosin\n");
        assertThatThrownBy(() -> Recipe.read(scheduler)).hasMessage("recipe " + scheduler + " line 3, column 3: training.lr_scheduler 'cosin' is not known; did you mean 'cosine'?; use one of linear, cosine, constant");
        Path split = write("split.yaml", "model: minilm\ndata:\n  validation_split: 1.0\n");
        assertThatThrownBy(() -> Recipe.read(split)).hasMessage("recipe " + split + " line 3, column 3: data.validation_split must be in [0, 1), found 1.0");
        Path nulled = write("null.yaml", "model: minilm\ntraining:\n  batch_size: null\n");
        assertThatThrownBy(() -> Recipe.read(nulled)).hasMessage("recipe " + nulled + " line 3, column 3: training.batch_size must be a whole number, found nothing");
    }

    @Test
    void testOverridesReplaceFieldsAndAnUnknownPathIsRefused() throws IOException {
        Path file = write("recipe.yaml", "model: minilm\ntraining:\n  epochs: 5\n");
        Map<String, Object> overrides = new LinkedHashMap<>();
        overrides.put("training.epochs", 2);
        overrides.put("training.learning_rate", 1e-4);
        overrides.put("data.train", "/data/train.jsonl");
        overrides.put("output.dir", "/runs/x");
        overrides.put("model", "/models/llama");
        Recipe recipe = Recipe.read(file, overrides);
        assertThat(recipe.training().epochs()).isEqualTo(2);
        assertThat(recipe.training().learningRate()).isEqualTo(1e-4);
        assertThat(recipe.data().train()).isEqualTo("/data/train.jsonl");
        assertThat(recipe.output().dir()).isEqualTo("/runs/x");
        assertThat(recipe.model()).isEqualTo("/models/llama");
        assertThatThrownBy(() -> Recipe.read(file, Map.of("training.learnin_rate", 1e-4))).isInstanceOf(RecipeException.class)
                .hasMessageStartingWith("override 'training.learnin_rate' is not a recipe field; did you mean 'training.learning_rate'?");
        assertThatThrownBy(() -> Recipe.read(file, Map.of("training.epochs", 0))).hasMessage("recipe " + file + ": training.epochs must be >= 1, found 0");
    }

    @Test
    void testAWrittenRecipeReadsBackEqual() throws IOException {
        Recipe original = Recipe.read(write("unipelt.yaml", UNIPELT + "task: {labels: [ham, spam]}\ndata: {train: /abs/train.jsonl}\ntraining: {learning_rate: 2.0e-3, seed: 7}\n"));
        Path written = folder.resolve("out/recipe.yaml");
        RecipeWriter.write(written, original);
        String yaml = Files.readString(written);
        assertThat(yaml).doesNotStartWith("---").contains("learning_rate: 0.002").contains("validation: null").contains("eval_batch_size: 32");
        assertThat(Recipe.read(written)).isEqualTo(original);
        try (var files = Files.list(folder.resolve("out"))) {
            assertThat(files).containsExactly(written);
        }
    }

    @Test
    void testNearestNameOffersOnlyCloseNames() {
        assertThat(NearestName.of("modle", List.of("model", "adapters"))).contains("model");
        assertThat(NearestName.of("colour", List.of("model", "adapters"))).isEmpty();
        assertThat(NearestName.distance("kitten", "sitting")).isEqualTo(3);
    }
}

package dev.graft.runtime.cli;

import static java.lang.String.format;

import dev.graft.runtime.plugin.MethodRegistry;
import dev.graft.runtime.recipe.DataSection;
import dev.graft.runtime.train.RoutedModel;
import dev.graft.runtime.train.TrainedModel;

import java.nio.file.Path;
import java.util.List;

import picocli.CommandLine.Option;

/**
 * The options of {@code evaluate} and {@code predict} that say which trained adapter to use and how its data is read.
 * Field names and the maximum length default to the training run's recipe when the adapter comes from a run.
 */
public final class DataOptions {
    @Option(names = "--adapter", paramLabel = "DIR", required = true,
            description = "A run folder of graft train, its adapter/ folder, or a PEFT adapter folder (or a folder of them). "
                    + "Repeatable with predict --adapter-column.")
    private List<Path> adapters;

    @Option(names = "--block", paramLabel = "BLOCK",
            description = {"Combine the adapters of a multi-adapter folder by a composition block: average:a,b (equal weights), average:a,b:0.7,0.3, "
                    + "stack:a,b (a feeds b) or fuse:NAME (the AdapterFusion in its fusion/NAME/). Default: the run's recipe's composition, else every adapter summed."})
    private String block;

    @Option(names = "--model", paramLabel = "DIR|minilm", description = "The base model (default: the run's, else the adapter's base_model_name_or_path).")
    private String model;

    @Option(names = "--text-field", paramLabel = "NAME", description = "The field holding the text (default: the run's data.text_field, else text).")
    private String textField;

    @Option(names = "--label-field", paramLabel = "NAME", description = "The field holding the label (default: the run's, else label).")
    private String labelField;

    @Option(names = "--prompt-field", paramLabel = "NAME", description = "The field holding a causal LM's prompt (default: the run's, else prompt).")
    private String promptField;

    @Option(names = "--completion-field", paramLabel = "NAME", description = "The field holding a causal LM's completion (default: the run's, else completion).")
    private String completionField;

    @Option(names = "--max-length", paramLabel = "N", description = "Tokens kept per example (default: the run's data.max_length, else 128).")
    private Integer maxLength;

    @Option(names = "--format", paramLabel = "FORMAT", description = "auto (by extension), jsonl or csv (default: the run's, else auto).")
    private String format;

    /** Opens the trained adapter. */
    TrainedModel open(MethodRegistry registry) {
        if (adapters.size() != 1) {
            throw new IllegalArgumentException(format("--adapter is given %d times (%s): give one, or route each input line to its adapter with "
                    + "graft predict --adapter-column FIELD", adapters.size(), adapters));
        }
        return TrainedModel.open(adapters.get(0), model, registry, block);
    }

    /** Opens every adapter given on one base model, for per-line routing. */
    RoutedModel openRouted(MethodRegistry registry) {
        if (block != null) {
            throw new IllegalArgumentException(format("--block %s combines the adapters of one --adapter folder; it cannot go with --adapter-column, "
                    + "which runs each line with one adapter: leave out one of them", block));
        }
        return RoutedModel.open(adapters, model, registry);
    }

    /** The data settings: the run's (or the defaults), with the options given here in their place. */
    DataSection settings(TrainedModel trained) {
        return settings(trained.data());
    }

    /** The data settings: {@code base}, with the options given here in their place. */
    DataSection settings(DataSection base) {
        return new DataSection(base.train(), base.validation(), base.validationSplit(),
                format != null ? format : base.format(),
                textField != null ? textField : base.textField(),
                labelField != null ? labelField : base.labelField(),
                promptField != null ? promptField : base.promptField(),
                completionField != null ? completionField : base.completionField(),
                maxLength != null ? maxLength : base.maxLength());
    }
}

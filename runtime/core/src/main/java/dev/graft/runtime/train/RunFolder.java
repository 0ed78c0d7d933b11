package dev.graft.runtime.train;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The output folder of a training run, and how its parts are written so that a killed run never leaves a half-written
 * one: every folder ({@code adapter/}, a checkpoint) is written under a temporary name and moved into place, a
 * replaced or pruned folder is first moved aside under a hidden name, and {@link #recoverInterruptedWrites} (run before
 * a resume) puts back what a kill between two moves left aside and deletes what it left half-deleted.
 * <pre>
 *   recipe.yaml                  the fully resolved recipe (repeat the run with graft train recipe.yaml)
 *   adapter/&lt;name&gt;/              each adapter in PEFT's layout, the head as modules_to_save (the best by the validation metric)
 *   adapter-lora/&lt;name&gt;/         with init_lora_weights pissa or olora: the same adapters converted to plain LoRA (rank 2r) for the original base
 *   adapter/fusion/&lt;name&gt;/       each AdapterFusion of a fuse block (FusionStore's layout), beside the adapters it fuses
 *   base_weights.safetensors     base weights a method changed during training (PeriodicLoRA's offloads), if any
 *   metrics.jsonl                one JSON line per log and per evaluation
 *   validation_predictions.jsonl the best adapter's prediction for every validation example (classification)
 *   training.png, report.md      the plot and the report
 *   checkpoints/step-000040/     the last keep_checkpoints checkpoints: adapter/ and state/
 * </pre>
 */
public final class RunFolder {
    /** The resolved recipe. */
    public static final String RECIPE = "recipe.yaml";
    /** The adapters. */
    public static final String ADAPTER = "adapter";
    /**
     * The adapters again, those whose start derives from the base weight (PiSSA, OLoRA) converted by PEFT's
     * {@code path_initial_model_for_weight_conversion} rule to plain adapters; written only when there is one.
     */
    public static final String CONVERTED_ADAPTER = "adapter-lora";
    /** Base weights changed during training, by Hugging Face key. */
    public static final String BASE_WEIGHTS = "base_weights.safetensors";
    /** The metrics log. */
    public static final String METRICS = "metrics.jsonl";
    /** The best adapter's validation predictions. */
    public static final String PREDICTIONS = "validation_predictions.jsonl";
    /** The plot. */
    public static final String PLOT = "training.png";
    /** The heat map of the mean gate per layer and adapter. */
    public static final String GATES_PLOT = "gates.png";
    /** The report. */
    public static final String REPORT = "report.md";
    /** The checkpoints folder. */
    public static final String CHECKPOINTS = "checkpoints";
    /** A checkpoint's trainer state folder. */
    public static final String STATE = "state";

    private static final String TEMPORARY = ".tmp";
    private static final String OLD = ".old";
    private static final String DELETED = ".deleted";
    private static final Pattern CHECKPOINT_NAME = Pattern.compile("step-(\\d+)");
    private static final List<String> RUN_ENTRIES = List.of(RECIPE, ADAPTER, CONVERTED_ADAPTER, BASE_WEIGHTS, METRICS, PREDICTIONS, PLOT, GATES_PLOT, REPORT, CHECKPOINTS);

    private final Path root;

    public RunFolder(Path root) {
        this.root = requireNonNull(root, "root is null").toAbsolutePath().normalize();
    }

    public Path root() {
        return root;
    }

    /** {@code name} inside the run folder. */
    public Path resolve(String name) {
        return root.resolve(name);
    }

    /**
     * Prepares the folder for a new run: creates it (and its parents), checks that it is writable, and refuses one that
     * already holds files unless {@code overwrite}, when the entries of an earlier run are removed (nothing else).
     *
     * @throws IllegalArgumentException naming the folder and what to do
     */
    public void prepareNewRun(boolean overwrite) {
        if (Files.exists(root) && !Files.isDirectory(root)) {
            throw new IllegalArgumentException(format("output %s is a file, not a folder; choose a folder with --output", root));
        }
        if (Files.isDirectory(root) && !isEmpty(root)) {
            if (!overwrite) {
                throw new IllegalArgumentException(format("output folder %s is not empty; choose another with --output, continue the run there with "
                        + "'graft train --resume %s', or pass --overwrite (output.overwrite: true) to replace it", root, root));
            }
            for (String entry : RUN_ENTRIES) {
                deleteRecursively(root.resolve(entry));
            }
        }
        try {
            Files.createDirectories(root);
        }
        catch (IOException e) {
            throw new IllegalArgumentException(format("cannot create output folder %s: %s", root, describe(e)), e);
        }
        checkWritable();
    }

    /** Checks that files can be created in the folder, before any work is done. */
    public void checkWritable() {
        try {
            Path probe = Files.createTempFile(root, ".graft-write-check", ".tmp");
            Files.delete(probe);
        }
        catch (IOException e) {
            throw new IllegalArgumentException(format("cannot write into output folder %s: %s; choose another with --output", root, describe(e)), e);
        }
    }

    /**
     * Writes a folder atomically: {@code writer} fills a temporary sibling of {@code target}, which then replaces
     * {@code target} (an existing one is moved aside first and deleted after).
     */
    public static void writeFolder(Path target, Consumer<Path> writer) {
        Path parent = target.getParent();
        Path temporary = parent.resolve("." + target.getFileName() + TEMPORARY);
        Path old = parent.resolve("." + target.getFileName() + OLD);
        try {
            Files.createDirectories(parent);
            deleteRecursively(temporary);
            Files.createDirectories(temporary);
            writer.accept(temporary);
            deleteRecursively(old);
            if (Files.exists(target)) {
                move(target, old);
            }
            move(temporary, target);
            deleteRecursively(old);
        }
        catch (IOException e) {
            throw new UncheckedIOException(format("cannot write %s: %s", target, describe(e)), e);
        }
        finally {
            deleteRecursively(temporary);
        }
    }

    /** The folder of the checkpoint after {@code step} steps. */
    public Path checkpoint(long step) {
        return root.resolve(CHECKPOINTS).resolve(format("step-%06d", step));
    }

    /** The complete checkpoints, oldest first (temporary folders of an interrupted write are not among them). */
    public List<Path> checkpoints() {
        Path folder = root.resolve(CHECKPOINTS);
        if (!Files.isDirectory(folder)) {
            return List.of();
        }
        try (Stream<Path> children = Files.list(folder)) {
            return children.filter(child -> Files.isDirectory(child) && CHECKPOINT_NAME.matcher(child.getFileName().toString()).matches())
                    .sorted(Comparator.comparingLong(RunFolder::stepOf))
                    .toList();
        }
        catch (IOException e) {
            throw new UncheckedIOException(format("cannot list %s: %s", folder, describe(e)), e);
        }
    }

    /** The newest complete checkpoint, if any. */
    public Optional<Path> latestCheckpoint() {
        List<Path> checkpoints = checkpoints();
        return checkpoints.isEmpty() ? Optional.empty() : Optional.of(checkpoints.get(checkpoints.size() - 1));
    }

    /**
     * Deletes all but the newest {@code keep} checkpoints: each is first renamed to a hidden {@code .step-N.deleted}
     * (atomically), so a kill while deleting never leaves a half-deleted folder that looks like a checkpoint.
     */
    public void pruneCheckpoints(int keep) {
        List<Path> checkpoints = new ArrayList<>(checkpoints());
        while (checkpoints.size() > keep) {
            Path checkpoint = checkpoints.remove(0);
            Path deleted = checkpoint.resolveSibling("." + checkpoint.getFileName() + DELETED);
            try {
                deleteRecursively(deleted);
                move(checkpoint, deleted);
            }
            catch (IOException e) {
                throw new UncheckedIOException(format("cannot delete %s: %s", checkpoint, describe(e)), e);
            }
            deleteRecursively(deleted);
        }
    }

    /**
     * Repairs what a killed run left between two steps of a write, before the run is resumed: a folder moved aside to
     * {@code .NAME.old} while its replacement was not yet in place goes back to {@code NAME} (the replacement was
     * never complete); a {@code .NAME.old} whose replacement is in place, a temporary {@code .NAME.tmp} folder or file,
     * and a pruned {@code .step-N.deleted} are deleted. Looks in the run folder and in {@code checkpoints/}.
     *
     * @return the entries repaired or deleted, for a message
     */
    public List<Path> recoverInterruptedWrites() {
        List<Path> repaired = new ArrayList<>();
        for (Path folder : List.of(root, root.resolve(CHECKPOINTS))) {
            if (!Files.isDirectory(folder)) {
                continue;
            }
            List<Path> hidden;
            try (Stream<Path> children = Files.list(folder)) {
                hidden = children.filter(child -> child.getFileName().toString().startsWith(".")).sorted().toList();
            }
            catch (IOException e) {
                throw new UncheckedIOException(format("cannot list %s: %s", folder, describe(e)), e);
            }
            for (Path entry : hidden) {
                String name = entry.getFileName().toString();
                if (name.endsWith(OLD)) {
                    Path original = folder.resolve(name.substring(1, name.length() - OLD.length()));
                    if (Files.exists(original)) {
                        deleteRecursively(entry);
                    }
                    else {
                        try {
                            move(entry, original);
                        }
                        catch (IOException e) {
                            throw new UncheckedIOException(format("cannot restore %s from %s: %s", original, entry, describe(e)), e);
                        }
                    }
                    repaired.add(entry);
                }
                else if (name.endsWith(TEMPORARY) || name.endsWith(DELETED)) {
                    deleteRecursively(entry);
                    repaired.add(entry);
                }
            }
        }
        return List.copyOf(repaired);
    }

    /** The step of a checkpoint folder. */
    public static long stepOf(Path checkpoint) {
        Matcher matcher = CHECKPOINT_NAME.matcher(checkpoint.getFileName().toString());
        if (!matcher.matches()) {
            throw new IllegalArgumentException(format("%s is not a checkpoint folder (step-NNNNNN)", checkpoint));
        }
        return Long.parseLong(matcher.group(1));
    }

    private static boolean isEmpty(Path folder) {
        try (Stream<Path> children = Files.list(folder)) {
            return children.findAny().isEmpty();
        }
        catch (IOException e) {
            throw new IllegalArgumentException(format("cannot read output folder %s: %s", folder, describe(e)), e);
        }
    }

    private static void move(Path source, Path target) throws IOException {
        try {
            Files.move(source, target, StandardCopyOption.ATOMIC_MOVE);
        }
        catch (AtomicMoveNotSupportedException e) {
            Files.move(source, target);
        }
    }

    /** Deletes a file or folder tree if it exists. */
    public static void deleteRecursively(Path path) {
        if (!Files.exists(path)) {
            return;
        }
        try {
            Files.walkFileTree(path, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attributes) throws IOException {
                    Files.delete(file);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult postVisitDirectory(Path directory, IOException exception) throws IOException {
                    Files.delete(directory);
                    return FileVisitResult.CONTINUE;
                }
            });
        }
        catch (IOException e) {
            throw new UncheckedIOException(format("cannot delete %s: %s", path, describe(e)), e);
        }
    }

    /** An I/O error in words: "permission denied" rather than the exception's class. */
    static String describe(IOException e) {
        if (e instanceof java.nio.file.AccessDeniedException) {
            return "permission denied";
        }
        if (e instanceof java.nio.file.NoSuchFileException) {
            return "no such file or folder";
        }
        if (e instanceof java.nio.file.FileSystemException && ((java.nio.file.FileSystemException) e).getReason() != null) {
            return ((java.nio.file.FileSystemException) e).getReason();
        }
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }
}

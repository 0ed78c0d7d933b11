package dev.graft.runtime.peft;

import static java.lang.String.format;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import dev.graft.runtime.compose.Attachment;
import dev.graft.runtime.plugin.ThreadContextClassLoader;
import dev.graft.spi.Site;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** What attaches where on a {@link PeftModel}, and PEFT's {@code print_trainable_parameters} line. */
public final class ModelReport {
    private ModelReport() {}

    /**
     * PEFT's line: {@code trainable params: 1,792 || all params: 100,224 || trainable%: 1.7880}.
     */
    public static String trainableParametersLine(PeftModel model) {
        return trainableParametersLine(model.trainableParameterCount(), model.totalParameterCount());
    }

    /** PEFT's line for {@code trainable} of {@code all} parameters (a model with a task head counts the head in both). */
    public static String trainableParametersLine(long trainable, long all) {
        return String.format(Locale.ROOT, "trainable params: %,d || all params: %,d || trainable%%: %.4f", trainable, all, all == 0 ? 0.0 : 100.0 * trainable / all);
    }

    /** One line per (adapter, site): adapter, method, composition, site kind, site name and tensor shapes. */
    public static List<String> attachmentLines(PeftModel model) {
        List<String> lines = new ArrayList<>();
        for (Adapter adapter : model.adapters().values()) {
            for (Map.Entry<Site, Attachment> entry : adapter.attachments().entrySet()) {
                List<String> tensors = new ArrayList<>();
                for (Pair<String, Parameter> parameter : entry.getValue().module().getParameters()) {
                    NDArray array = parameter.getValue().getArray();
                    tensors.add(parameter.getKey() + array.getShape());
                }
                entry.getValue().gate().ifPresent(gate -> tensors.add("gate" + gate.getParameters().get("weight").getArray().getShape()));
                lines.add(format("%s  %s  %s  %s  %s  %s", adapter.name(), adapter.descriptor().id(), adapter.composition().name().toLowerCase(Locale.ROOT),
                        entry.getKey().kind().name().toLowerCase(Locale.ROOT), entry.getKey().name(), String.join(" ", tensors)));
            }
            Map<String, Parameter> sharedParameters;
            try (ThreadContextClassLoader ignored = ThreadContextClassLoader.enter(adapter.method())) {
                sharedParameters = adapter.instance().sharedParameters();
            }
            for (Map.Entry<String, Parameter> shared : sharedParameters.entrySet()) {
                lines.add(format("%s  %s  shared  %s%s%s", adapter.name(), adapter.descriptor().id(), shared.getKey(),
                        shared.getValue().getArray().getShape(), shared.getValue().requiresGradient() ? "" : " (frozen)"));
            }
        }
        return lines;
    }
}

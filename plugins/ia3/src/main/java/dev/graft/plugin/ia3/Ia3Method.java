package dev.graft.plugin.ia3;

import com.google.auto.service.AutoService;
import dev.graft.spi.AbstractPeftMethod;
import dev.graft.spi.MethodInstance;
import dev.graft.spi.ModelContext;
import dev.graft.spi.PeftMethod;
import dev.graft.spi.SiteKind;

/**
 * (IA)³, infused adapter by inhibiting and amplifying inner activations (Liu et al. 2022), with Hugging Face PEFT's
 * semantics, options and checkpoint layout: each targeted linear layer learns one vector {@code ia3_l} that scales
 * its output ({@code (out, 1)}) or, for feed-forward modules, its input ({@code (1, in)}); {@code out} or {@code in}
 * parameters per layer, ones at start (a no-op).
 *
 * <p>Default targets follow PEFT: llama {@code k_proj, v_proj, down_proj} with feed-forward {@code down_proj}; bert
 * and roberta {@code key, value, output.dense} with feed-forward {@code output.dense}. A module is feed-forward
 * when its name ends with an entry of {@code feedforward_modules} (PEFT's plain suffix rule), or, when
 * {@code feedforward_modules} is a string as PEFT also allows, when the regular expression matches its whole name.
 *
 * <p>Merging multiplies the weight's rows (and the bias) or columns by the vector; unmerging divides by it plus
 * {@code 1e-8}, as PEFT. Checkpoints hold {@code base_model.model.<module>.ia3_l} with {@code peft_type: IA3}.
 *
 * <p>Which sites are feed-forward depends on the model's type, so the adapter ({@link Ia3Instance}) makes the modules.
 */
@AutoService(PeftMethod.class)
public final class Ia3Method extends AbstractPeftMethod<Ia3Configuration> {
    /** Creates the provider; it holds no tensors. */
    public Ia3Method() {
        super(Ia3Configuration.class, describe()
                .setId(Ia3Configuration.METHOD_ID)
                .setVersion("0.1.0")
                .setSpiVersion(SPI_VERSION)
                .setPeftType("IA3")
                .setSiteKinds(SiteKind.LINEAR)
                .setModuleType(Ia3Module.class)
                .optDefaultTargets(Ia3Configuration.DEFAULT_TARGETS)
                .setDescription("(IA)3: learned vectors rescaling linear layers' outputs, or feed-forward layers' inputs (Hugging Face PEFT compatible)"));
    }

    /**
     * An adapter with the feed-forward modules for {@code model}'s type.
     *
     * @throws dev.graft.spi.InvalidOptionsException when {@code feedforward_modules} is absent and PEFT has no default
     *         for the model's type
     */
    @Override
    protected MethodInstance createInstance(Ia3Configuration options, ModelContext model) {
        return new Ia3Instance(options, options.feedForwardModules(model.modelType()));
    }
}

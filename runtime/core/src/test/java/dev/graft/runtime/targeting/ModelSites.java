package dev.graft.runtime.targeting;

import dev.graft.spi.LinearSite;

import java.util.ArrayList;
import java.util.List;

/** Linear sites named like Hugging Face models, for targeting tests. */
final class ModelSites {
    private ModelSites() {}

    /** A two-layer Llama: attention q/k/v/o and MLP gate/up/down projections per layer, then lm_head. */
    static List<LinearSite> llama() {
        List<LinearSite> sites = new ArrayList<>();
        for (int layer = 0; layer < 2; layer++) {
            String prefix = "model.layers." + layer + ".";
            for (String projection : List.of("q_proj", "k_proj", "v_proj", "o_proj")) {
                sites.add(new LinearSite(prefix + "self_attn." + projection, layer, 64, 64, false));
            }
            sites.add(new LinearSite(prefix + "mlp.gate_proj", layer, 64, 172, false));
            sites.add(new LinearSite(prefix + "mlp.up_proj", layer, 64, 172, false));
            sites.add(new LinearSite(prefix + "mlp.down_proj", layer, 172, 64, false));
        }
        sites.add(new LinearSite("lm_head", -1, 64, 1000, false));
        return List.copyOf(sites);
    }

    /** A two-layer BERT encoder: attention query/key/value and output, intermediate and output dense, then the pooler. */
    static List<LinearSite> bert() {
        List<LinearSite> sites = new ArrayList<>();
        for (int layer = 0; layer < 2; layer++) {
            String prefix = "encoder.layer." + layer + ".";
            sites.add(new LinearSite(prefix + "attention.self.query", layer, 32, 32, true));
            sites.add(new LinearSite(prefix + "attention.self.key", layer, 32, 32, true));
            sites.add(new LinearSite(prefix + "attention.self.value", layer, 32, 32, true));
            sites.add(new LinearSite(prefix + "attention.output.dense", layer, 32, 32, true));
            sites.add(new LinearSite(prefix + "intermediate.dense", layer, 32, 128, true));
            sites.add(new LinearSite(prefix + "output.dense", layer, 128, 32, true));
        }
        sites.add(new LinearSite("pooler.dense", -1, 32, 32, true));
        return List.copyOf(sites);
    }

    static List<String> names(List<LinearSite> sites) {
        return sites.stream().map(LinearSite::name).toList();
    }
}

package dev.graft.runtime.compose;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import dev.graft.spi.Site;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** The modules attached at one site, in attachment order. Not thread-safe: models are driven by one thread. */
public final class SiteAttachments {
    private final Site site;
    private final List<Attachment> attachments = new ArrayList<>();
    private FusionLayer fusion;
    private List<String> fusedAdapters = List.of();

    public SiteAttachments(Site site) {
        this.site = requireNonNull(site, "site is null");
    }

    public Site site() {
        return site;
    }

    /** Adds an attachment; an adapter attaches at most once per site. */
    public void add(Attachment attachment) {
        requireNonNull(attachment, "attachment is null");
        if (find(attachment.adapterName()).isPresent()) {
            throw new IllegalStateException(format("adapter '%s' is already attached at %s", attachment.adapterName(), site.name()));
        }
        attachments.add(attachment);
    }

    /** Removes the attachment of {@code adapterName}, if any. */
    public Optional<Attachment> remove(String adapterName) {
        Optional<Attachment> found = find(adapterName);
        found.ifPresent(attachments::remove);
        return found;
    }

    public Optional<Attachment> find(String adapterName) {
        return attachments.stream().filter(attachment -> attachment.adapterName().equals(adapterName)).findFirst();
    }

    /** Every attachment, in order. */
    public List<Attachment> all() {
        return List.copyOf(attachments);
    }

    /**
     * The attachments forward must compute, in order: the active, unmerged ones; under a {@link RowRouting}, the
     * unmerged ones of the routed adapters, whatever their activation.
     */
    public List<Attachment> live() {
        Optional<RowRouting> routing = RowRouting.current();
        List<Attachment> live = new ArrayList<>();
        for (Attachment attachment : attachments) {
            boolean computed = routing.isPresent()
                    ? routing.get().routes(attachment.adapterName()) && !attachment.isMerged()
                    : attachment.isLive();
            if (computed) {
                live.add(attachment);
            }
        }
        return live;
    }

    /**
     * Makes {@code layer} fuse the outputs of {@code adapterNames} at this sublayer site (an active {@link Fuse}
     * block): their terms are not added one by one but combined by the layer.
     */
    public void setFusion(FusionLayer layer, List<String> adapterNames) {
        this.fusion = requireNonNull(layer, "layer is null");
        this.fusedAdapters = List.copyOf(requireNonNull(adapterNames, "adapterNames is null"));
    }

    /** Ends fusion at this site: every live adapter's term is added as attached. */
    public void clearFusion() {
        fusion = null;
        fusedAdapters = List.of();
    }

    /** The fusion layer of the active {@link Fuse} block at this site, if any. */
    public Optional<FusionLayer> fusion() {
        return Optional.ofNullable(fusion);
    }

    /** Whether the active {@link Fuse} block fuses {@code adapterName}'s term at this site. */
    public boolean isFused(String adapterName) {
        return fusion != null && fusedAdapters.contains(adapterName);
    }

    public boolean isEmpty() {
        return attachments.isEmpty();
    }
}

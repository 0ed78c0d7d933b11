package dev.graft.runtime.model;

import static java.lang.String.format;

import dev.graft.runtime.compose.LinearSiteBlock;
import dev.graft.runtime.compose.SiteAttachments;
import dev.graft.spi.Site;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A model's sites in model order, their attachments, and its linear site blocks by name. */
final class SiteRegistry {
    private final List<Site> sites;
    private final Map<String, SiteAttachments> attachmentsByKey;
    private final Map<String, LinearSiteBlock> linearSites;

    private SiteRegistry(Builder builder) {
        List<Site> siteList = new ArrayList<>();
        for (SiteAttachments attachments : builder.attachmentsByKey.values()) {
            siteList.add(attachments.site());
        }
        this.sites = List.copyOf(siteList);
        this.attachmentsByKey = Collections.unmodifiableMap(new LinkedHashMap<>(builder.attachmentsByKey));
        this.linearSites = Collections.unmodifiableMap(new LinkedHashMap<>(builder.linearSites));
    }

    static Builder builder() {
        return new Builder();
    }

    List<Site> sites() {
        return sites;
    }

    SiteAttachments attachments(Site site) {
        SiteAttachments attachments = attachmentsByKey.get(key(site));
        if (attachments == null) {
            throw new IllegalArgumentException(format("this model has no %s site named %s", site.kind(), site.name()));
        }
        return attachments;
    }

    LinearSiteBlock linearSite(String name) {
        LinearSiteBlock block = linearSites.get(name);
        if (block == null) {
            throw new IllegalArgumentException(format("this model has no linear site named %s", name));
        }
        return block;
    }

    private static String key(Site site) {
        return site.kind() + ":" + site.name();
    }

    /** Collects sites in model order. */
    static final class Builder {
        private final Map<String, SiteAttachments> attachmentsByKey = new LinkedHashMap<>();
        private final Map<String, LinearSiteBlock> linearSites = new LinkedHashMap<>();

        private Builder() {}

        Builder add(SiteAttachments attachments) {
            if (attachmentsByKey.putIfAbsent(key(attachments.site()), attachments) != null) {
                throw new IllegalStateException(format("duplicate %s site %s", attachments.site().kind(), attachments.site().name()));
            }
            return this;
        }

        Builder addLinear(LinearSiteBlock... blocks) {
            for (LinearSiteBlock block : blocks) {
                add(block.attachments());
                linearSites.put(block.site().name(), block);
            }
            return this;
        }

        SiteRegistry build() {
            return new SiteRegistry(this);
        }
    }
}

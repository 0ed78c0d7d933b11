package dev.graft.runtime.data;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Encodes and pads batches on one background daemon thread, up to {@code ahead} batches ahead of the consumer, so a
 * training step never waits for tokenization. Batches are consecutive slices of {@code order} of
 * {@code batchSize} (the last may be smaller), from slice {@code firstBatch} on (a resumed run skips what it has
 * seen). An encoder's exception is rethrown by {@link #next()} unchanged; {@link #close()} stops the thread.
 */
public final class BatchLoader implements Iterator<PaddedBatch>, AutoCloseable {
    private static final Object END = new Object();

    private final BlockingQueue<Object> queue;
    private final Thread thread;
    private Object next;
    private volatile boolean closed;

    private BatchLoader(List<Example> examples, int[] order, int batchSize, int firstBatch, ExampleEncoder encoder, long padTokenId, int ahead) {
        this.queue = new ArrayBlockingQueue<>(ahead + 1);
        this.thread = new Thread(() -> produce(examples, order, batchSize, firstBatch, encoder, padTokenId), "graft-batch-loader");
        this.thread.setDaemon(true);
    }

    /** Starts loading; see the class comment. */
    public static BatchLoader start(List<Example> examples, int[] order, int batchSize, int firstBatch, ExampleEncoder encoder, long padTokenId, int ahead) {
        requireNonNull(examples, "examples is null");
        requireNonNull(order, "order is null");
        requireNonNull(encoder, "encoder is null");
        if (batchSize < 1 || ahead < 1 || firstBatch < 0) {
            throw new IllegalArgumentException(format("batch size %d and prefetch %d must be positive, first batch %d not negative", batchSize, ahead, firstBatch));
        }
        BatchLoader loader = new BatchLoader(List.copyOf(examples), order.clone(), batchSize, firstBatch, encoder, padTokenId, ahead);
        loader.thread.start();
        return loader;
    }

    /** The number of batches of {@code examples} examples in batches of {@code batchSize}. */
    public static int batchCount(int examples, int batchSize) {
        return (examples + batchSize - 1) / batchSize;
    }

    private void produce(List<Example> examples, int[] order, int batchSize, int firstBatch, ExampleEncoder encoder, long padTokenId) {
        try {
            for (int start = firstBatch * batchSize; start < order.length && !closed; start += batchSize) {
                List<TokenizedExample> batch = new ArrayList<>();
                for (int position = start; position < Math.min(order.length, start + batchSize); position++) {
                    batch.add(encoder.encode(order[position], examples.get(order[position])));
                }
                put(Batches.pad(batch, padTokenId));
            }
            put(END);
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        catch (RuntimeException e) {
            try {
                put(e);
            }
            catch (InterruptedException interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void put(Object item) throws InterruptedException {
        while (!closed) {
            if (queue.offer(item, 100, TimeUnit.MILLISECONDS)) {
                return;
            }
        }
    }

    @Override
    public boolean hasNext() {
        if (next == null) {
            try {
                next = queue.take();
            }
            catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for the next batch", e);
            }
        }
        if (next instanceof RuntimeException) {
            throw (RuntimeException) next;
        }
        return next != END;
    }

    @Override
    public PaddedBatch next() {
        if (!hasNext()) {
            throw new NoSuchElementException("no more batches");
        }
        PaddedBatch batch = (PaddedBatch) next;
        next = null;
        return batch;
    }

    /** Stops the loader thread and waits for it. */
    @Override
    public void close() {
        closed = true;
        thread.interrupt();
        try {
            thread.join(5_000);
        }
        catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

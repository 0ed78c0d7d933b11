package dev.graft.runtime.report;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import dev.graft.runtime.io.AtomicFiles;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalDouble;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.HeatMapChart;
import org.knowm.xchart.HeatMapChartBuilder;

/** A heat map PNG of {@link GateMeans}: one cell per layer (rows) and adapter (columns), coloured by the mean gate in [0, 1]. */
public final class GateHeatMap {
    static final int CELL = 160;

    private GateHeatMap() {}

    /** Draws {@code means} under {@code title} and writes the PNG to {@code png} atomically. */
    public static void write(Path png, GateMeans means, String title) {
        requireNonNull(png, "png is null");
        requireNonNull(means, "means is null");
        requireNonNull(title, "title is null");
        if (means.isEmpty()) {
            throw new IllegalArgumentException(format("Nothing to draw in %s: there are no gate values", png));
        }
        System.setProperty("java.awt.headless", "true");
        TrainingPlot.requireFonts(() -> BitmapEncoder.getBufferedImage(new HeatMapChartBuilder().width(10).height(10).build()));
        List<String> adapters = means.adapters();
        List<Integer> layers = means.layers();
        HeatMapChart chart = new HeatMapChartBuilder()
                .width(Math.max(Math.max(480, 240 + CELL * adapters.size()), 80 + 9 * title.length()))
                .height(Math.max(320, 140 + 40 * layers.size()))
                .title(title)
                .xAxisTitle("adapter")
                .yAxisTitle("layer")
                .build();
        chart.getStyler().setMin(0).setMax(1).setShowValue(true).setHeatMapValueDecimalPattern("0.000");
        List<Number[]> cells = new ArrayList<>();
        for (int row = 0; row < layers.size(); row++) {
            for (int column = 0; column < adapters.size(); column++) {
                OptionalDouble mean = means.mean(layers.get(row), adapters.get(column));
                if (mean.isPresent()) {
                    cells.add(new Number[] {column, row, mean.getAsDouble()});
                }
            }
        }
        List<String> rows = new ArrayList<>();
        layers.forEach(layer -> rows.add(Integer.toString(layer)));
        chart.addSeries("mean gate", adapters, rows, cells);
        try {
            AtomicFiles.write(png, BitmapEncoder.getBitmapBytes(chart, BitmapEncoder.BitmapFormat.PNG));
        }
        catch (IOException e) {
            throw new UncheckedIOException(format("Cannot encode the gate heat map %s as PNG: %s", png, e.getMessage()), e);
        }
    }
}

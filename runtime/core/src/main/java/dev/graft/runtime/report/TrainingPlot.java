package dev.graft.runtime.report;

import dev.graft.runtime.io.AtomicFiles;

import static java.lang.String.format;
import static java.util.Objects.requireNonNull;

import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.font.TextLayout;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import javax.imageio.ImageIO;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * The training plot: one PNG stacking, top to bottom, (1) training loss (line) and validation loss (markers and
 * line) against step; (2) the validation metrics other than loss against step, those outside [0, 1] (perplexity) on
 * a right-hand axis of their own; (3) when any record has gates, the mean gate value per adapter against step, y
 * from 0 to 1. Panels without data are left out. 900 px wide, each panel 300 px high. Draws headless.
 */
public final class TrainingPlot {
    static final int WIDTH = 900;
    static final int PANEL_HEIGHT = 300;
    static final String FONT_FIX = "install fontconfig and a font (Debian/Ubuntu: apt-get install fontconfig fonts-dejavu-core)";
    private static final String STEP = "step";
    private static final String LOSS = "loss";

    private TrainingPlot() {}

    /** Draws {@code records} (as read by {@link MetricsLog#read(Path)}) under {@code title} and writes the PNG to {@code png} atomically. */
    public static void write(Path png, List<MetricsRecord> records, String title) {
        requireNonNull(png, "png is null");
        requireNonNull(records, "records is null");
        requireNonNull(title, "title is null");
        System.setProperty("java.awt.headless", "true");
        List<XYChart> panels = new ArrayList<>();
        lossPanel(records, title).ifPresent(panels::add);
        metricsPanel(records).ifPresent(panels::add);
        gatePanel(records).ifPresent(panels::add);
        if (panels.isEmpty()) {
            throw new IllegalArgumentException(format("Nothing to plot in %s: the %d metrics records hold no loss, no validation metric and no gate value", png, records.size()));
        }
        alignSteps(panels);
        requireFonts(TrainingPlot::drawText);
        BufferedImage image = new BufferedImage(WIDTH, PANEL_HEIGHT * panels.size(), BufferedImage.TYPE_INT_RGB);
        Graphics2D graphics = image.createGraphics();
        try {
            for (int index = 0; index < panels.size(); index++) {
                graphics.drawImage(BitmapEncoder.getBufferedImage(panels.get(index)), 0, PANEL_HEIGHT * index, null);
            }
        }
        finally {
            graphics.dispose();
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try {
            ImageIO.write(image, "png", bytes);
        }
        catch (IOException e) {
            throw new UncheckedIOException(format("Cannot encode the training plot %s as PNG: %s", png, e.getMessage()), e);
        }
        AtomicFiles.write(png, bytes.toByteArray());
    }

    /** Runs {@code probe}, which draws text; when the JDK cannot (no fonts), fails with one message that names the fix. */
    static void requireFonts(Runnable probe) {
        try {
            probe.run();
        }
        catch (VirtualMachineError e) {
            throw e;
        }
        catch (RuntimeException | Error e) {
            throw new IllegalStateException(format("Cannot draw the text of the training plot: the JDK finds no usable font (%s: %s); %s, then run again",
                    e.getClass().getSimpleName(), e.getMessage(), FONT_FIX), e);
        }
    }

    private static void drawText() {
        BufferedImage image = new BufferedImage(1, 1, BufferedImage.TYPE_INT_RGB);
        Graphics2D graphics = image.createGraphics();
        try {
            new TextLayout(STEP, new Font(Font.SANS_SERIF, Font.PLAIN, 12), graphics.getFontRenderContext()).draw(graphics, 0, 0);
        }
        finally {
            graphics.dispose();
        }
    }

    private static Optional<XYChart> lossPanel(List<MetricsRecord> records, String title) {
        Points training = points(records, MetricsRecord.TRAIN, LOSS);
        Points validation = points(records, MetricsRecord.VALIDATION, LOSS);
        if (training.isEmpty() && validation.isEmpty()) {
            return Optional.empty();
        }
        XYChart chart = panel(format("%s: loss", title), LOSS);
        if (!training.isEmpty()) {
            XYSeries series = chart.addSeries("training loss", training.steps(), training.values());
            series.setMarker(training.size() == 1 ? SeriesMarkers.CIRCLE : SeriesMarkers.NONE);
        }
        if (!validation.isEmpty()) {
            chart.addSeries("validation loss", validation.steps(), validation.values()).setMarker(SeriesMarkers.CIRCLE);
        }
        return Optional.of(chart);
    }

    private static Optional<XYChart> metricsPanel(List<MetricsRecord> records) {
        Set<String> names = new LinkedHashSet<>();
        for (MetricsRecord record : records) {
            if (record.split().equals(MetricsRecord.VALIDATION)) {
                record.values().keySet().stream().filter(name -> !name.equals(LOSS)).forEach(names::add);
            }
        }
        Map<String, Points> metrics = new LinkedHashMap<>();
        for (String name : names) {
            Points points = points(records, MetricsRecord.VALIDATION, name);
            if (!points.isEmpty()) {
                metrics.put(name, points);
            }
        }
        if (metrics.isEmpty()) {
            return Optional.empty();
        }
        boolean someInUnitRange = metrics.values().stream().anyMatch(Points::inUnitRange);
        boolean someOutside = metrics.values().stream().anyMatch(points -> !points.inUnitRange());
        XYChart chart = panel("validation metrics", "value");
        List<String> rightAxisNames = new ArrayList<>();
        metrics.forEach((name, points) -> {
            XYSeries series = chart.addSeries(name, points.steps(), points.values());
            series.setMarker(SeriesMarkers.CIRCLE);
            if (someInUnitRange && someOutside && !points.inUnitRange()) {
                series.setYAxisGroup(1);
                rightAxisNames.add(name);
            }
        });
        if (!rightAxisNames.isEmpty()) {
            chart.getStyler().setYAxisGroupPosition(1, Styler.YAxisPosition.Right);
            chart.setYAxisGroupTitle(1, String.join(", ", rightAxisNames));
        }
        return Optional.of(chart);
    }

    private static Optional<XYChart> gatePanel(List<MetricsRecord> records) {
        Set<String> splits = new LinkedHashSet<>();
        Set<String> adapters = new LinkedHashSet<>();
        for (MetricsRecord record : records) {
            if (!record.gates().isEmpty()) {
                splits.add(record.split());
                adapters.addAll(record.gates().keySet());
            }
        }
        XYChart chart = panel("mean gate value per adapter", "gate");
        chart.getStyler().setYAxisMin(0.0).setYAxisMax(1.0);
        boolean any = false;
        for (String split : splits) {
            for (String adapter : adapters) {
                Points points = gatePoints(records, split, adapter);
                if (!points.isEmpty()) {
                    String name = splits.size() == 1 ? adapter : format("%s (%s)", adapter, split);
                    chart.addSeries(name, points.steps(), points.values()).setMarker(points.size() == 1 ? SeriesMarkers.CIRCLE : SeriesMarkers.NONE);
                    any = true;
                }
            }
        }
        return any ? Optional.of(chart) : Optional.empty();
    }

    /** Gives every panel the step axis from 0 to the last step, so that the panels read against one another. */
    private static void alignSteps(List<XYChart> panels) {
        double last = panels.stream().flatMap(panel -> panel.getSeriesMap().values().stream()).mapToDouble(XYSeries::getXMax).max().orElseThrow();
        if (last > 0) {
            panels.forEach(panel -> panel.getStyler().setXAxisMin(0.0).setXAxisMax(last));
        }
    }

    private static XYChart panel(String title, String yAxisTitle) {
        XYChart chart = new XYChartBuilder().width(WIDTH).height(PANEL_HEIGHT).title(title).xAxisTitle(STEP).yAxisTitle(yAxisTitle).build();
        chart.getStyler()
                .setLegendPosition(Styler.LegendPosition.OutsideE)
                .setChartBackgroundColor(Color.WHITE)
                .setMarkerSize(6);
        return chart;
    }

    private static Points points(List<MetricsRecord> records, String split, String name) {
        Points points = new Points();
        for (MetricsRecord record : records) {
            Double value = record.values().get(name);
            if (record.split().equals(split) && value != null) {
                points.add(record.step(), value);
            }
        }
        return points;
    }

    private static Points gatePoints(List<MetricsRecord> records, String split, String adapter) {
        Points points = new Points();
        for (MetricsRecord record : records) {
            Double value = record.gates().get(adapter);
            if (record.split().equals(split) && value != null) {
                points.add(record.step(), value);
            }
        }
        return points;
    }

    /** The finite points of one series. */
    private static final class Points {
        private final List<Double> steps = new ArrayList<>();
        private final List<Double> values = new ArrayList<>();

        void add(long step, double value) {
            if (Double.isFinite(value)) {
                steps.add((double) step);
                values.add(value);
            }
        }

        boolean isEmpty() {
            return steps.isEmpty();
        }

        int size() {
            return steps.size();
        }

        boolean inUnitRange() {
            return values.stream().allMatch(value -> value >= 0 && value <= 1);
        }

        double[] steps() {
            return steps.stream().mapToDouble(Double::doubleValue).toArray();
        }

        double[] values() {
            return values.stream().mapToDouble(Double::doubleValue).toArray();
        }
    }
}

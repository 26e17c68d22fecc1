//! Inline SVG charts (plotters): one per task and metric, models side by side, each value a point
//! with its 95% interval as a whisker. The value axis spans the data, not zero, so differences
//! the intervals resolve are visible. plotters' SVG backend escapes all text it writes.

use plotters::prelude::*;

use crate::store::ResultRow;

const POINT: RGBColor = RGBColor(76, 114, 176);
const WHISKER: RGBColor = RGBColor(40, 40, 40);

/// An SVG chart of one metric across models; `rows` are that task's rows for that metric.
/// `reference` draws a dashed horizontal line (e.g. chance accuracy 0.5) inside the axis range.
/// A metric's axis label: its name and what its numbers are, with the better direction.
pub fn axis_label(metric: &str, higher_is_better: bool) -> String {
    let unit = match metric {
        "bits_per_byte" | "pseudo_bits_per_byte" => "bits per byte",
        "word_perplexity" | "token_perplexity" | "byte_perplexity" | "pseudo_perplexity" => "perplexity",
        "bleu" | "chrf" | "chrf_pp" => "score, 0–100",
        m if m.starts_with("rouge") => "F-measure, 0–1",
        "accuracy" | "accuracy_ties_half" | "acc" | "acc_norm" | "tie_rate" => "share of items, 0–1",
        m if m.starts_with("kl") => "nats per token",
        _ => "value",
    };
    format!("{metric} ({unit}; {} is better)", if higher_is_better { "higher" } else { "lower" })
}

pub fn metric_chart(title: &str, rows: &[&ResultRow], reference: Option<f64>) -> String {
    let mut svg = String::new();
    if rows.is_empty() {
        return svg;
    }
    let width = (160 + 110 * rows.len() as u32).clamp(420, 960);
    {
        let backend = SVGBackend::with_string(&mut svg, (width, 300));
        // Drawing into a String cannot fail for I/O reasons; a layout failure leaves a partial
        // chart, which is still better than none, so errors are ignored.
        let _ = draw(backend, title, rows, reference);
    }
    svg
}

fn draw(
    backend: SVGBackend,
    title: &str,
    rows: &[&ResultRow],
    reference: Option<f64>,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = backend.into_drawing_area();
    root.fill(&WHITE)?;
    let finite = |v: f64| if v.is_finite() { Some(v) } else { None };
    let values: Vec<f64> = rows
        .iter()
        .flat_map(|r| [finite(r.value), finite(r.ci_low), finite(r.ci_high)])
        .flatten()
        .chain(reference)
        .collect();
    let (lo, hi) = values.iter().fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    let (lo, hi) = if values.is_empty() {
        (0.0, 1.0)
    } else {
        let pad = ((hi - lo) * 0.15).max(hi.abs().max(1e-9) * 1e-3);
        (lo - pad, hi + pad)
    };
    let n = rows.len();
    let labels: Vec<String> = rows.iter().map(|r| r.model.clone()).collect();
    let y_desc = axis_label(&rows[0].metric, rows[0].higher_is_better);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(80)
        .build_cartesian_2d((0..n.saturating_sub(1)).into_segmented(), lo..hi)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_desc("model")
        .y_desc(y_desc)
        .x_labels(n)
        .x_label_formatter(&|x| match x {
            SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .y_label_formatter(&|y| super::fmt_value(*y))
        .draw()?;
    chart
        .draw_series(rows.iter().enumerate().filter_map(|(i, r)| {
            match (finite(r.value), finite(r.ci_low), finite(r.ci_high)) {
                (Some(v), Some(lo), Some(hi)) => {
                    Some(ErrorBar::new_vertical(SegmentValue::CenterOf(i), lo, v, hi, WHISKER.stroke_width(2), 12))
                }
                _ => None,
            }
        }))?
        .label("95% interval")
        .legend(|(x, y)| PathElement::new(vec![(x + 8, y - 6), (x + 8, y + 6)], WHISKER.stroke_width(2)));
    if let Some(y) = reference {
        let dashes: Vec<(SegmentValue<usize>, f64)> =
            (0..n).flat_map(|i| [(SegmentValue::Exact(i), y)]).chain([(SegmentValue::Last, y)]).collect();
        chart
            .draw_series(DashedLineSeries::new(dashes, 6, 4, RGBColor(180, 60, 60).stroke_width(1)))?
            .label("chance")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], RGBColor(180, 60, 60).stroke_width(1)));
    }
    chart
        .draw_series(rows.iter().enumerate().filter_map(|(i, r)| {
            finite(r.value).map(|v| Circle::new((SegmentValue::CenterOf(i), v), 5, POINT.filled()))
        }))?
        .label("value")
        .legend(|(x, y)| Circle::new((x + 8, y), 4, POINT.filled()));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()?;
    root.present()?;
    Ok(())
}

/// A trend chart of one metric over runs: a line per model, whiskers for the intervals.
/// `series` holds, per model, one optional (value, low, high) per run.
/// A model's values across runs: (value, interval low, interval high), none where it is absent.
pub type Series = (String, Vec<Option<(f64, f64, f64)>>);

pub fn trend_chart(title: &str, y_desc: &str, runs: usize, series: &[Series]) -> String {
    let mut svg = String::new();
    if runs < 2 || series.is_empty() {
        return svg;
    }
    {
        let backend = SVGBackend::with_string(&mut svg, (560, 300));
        let _ = draw_trend(backend, title, y_desc, runs, series);
    }
    svg
}

const PALETTE: [RGBColor; 10] = [
    RGBColor(76, 114, 176),
    RGBColor(221, 132, 82),
    RGBColor(85, 168, 104),
    RGBColor(196, 78, 82),
    RGBColor(129, 114, 179),
    RGBColor(147, 120, 96),
    RGBColor(218, 139, 195),
    RGBColor(140, 140, 140),
    RGBColor(204, 185, 116),
    RGBColor(100, 181, 205),
];

fn draw_trend(
    backend: SVGBackend,
    title: &str,
    y_desc: &str,
    runs: usize,
    series: &[Series],
) -> Result<(), Box<dyn std::error::Error>> {
    let root = backend.into_drawing_area();
    root.fill(&WHITE)?;
    let values: Vec<f64> = series
        .iter()
        .flat_map(|(_, v)| v.iter().flatten().flat_map(|&(a, b, c)| [a, b, c]))
        .filter(|v| v.is_finite())
        .collect();
    if values.is_empty() {
        return Ok(());
    }
    let (lo, hi) = values.iter().fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    let pad = ((hi - lo) * 0.15).max(hi.abs().max(1e-9) * 1e-3);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 15))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..(runs - 1) as f64 + 0.2, (lo - pad)..(hi + pad))?;
    chart
        .configure_mesh()
        .x_desc("run (oldest → newest)")
        .y_desc(y_desc)
        .x_labels(runs.min(10))
        .x_label_formatter(&|x| format!("{}", *x as i64 + 1))
        .y_label_formatter(&|y| super::fmt_value(*y))
        .draw()?;
    for (k, (model, points)) in series.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let pts: Vec<(f64, f64)> =
            points.iter().enumerate().filter_map(|(i, p)| p.map(|(v, _, _)| (i as f64, v))).collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
            .label(model.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
        chart.draw_series(points.iter().enumerate().filter_map(|(i, p)| {
            p.filter(|(_, l, h)| l.is_finite() && h.is_finite())
                .map(|(v, l, h)| ErrorBar::new_vertical(i as f64, l, v, h, color.stroke_width(1), 6))
        }))?;
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK.mix(0.3)).draw()?;
    root.present()?;
    Ok(())
}

/// One model's accuracy per group, in the order of `groups` (`None`: not scored there).
pub type GroupSeries = (String, Vec<Option<f64>>);

/// Accuracy per group as a dot plot: a row per group (its name on the left), the accuracy along
/// a 0–1 axis, a coloured dot per model, each model's dots a little apart vertically so that
/// equal values stay visible. Rows keep a fixed height, so 67 phenomena and 10 models still read;
/// `reference` draws a dashed vertical line (chance).
pub fn group_chart(title: &str, groups: &[String], series: &[GroupSeries], reference: Option<f64>) -> String {
    let mut svg = String::new();
    if groups.is_empty() || series.is_empty() {
        return svg;
    }
    let row = (6 * series.len() as u32 + 6).max(16);
    let label = groups.iter().map(|g| g.chars().count()).max().unwrap_or(0) as u32 * 7 + 12;
    let height = 90 + row * groups.len() as u32 + 18 * series.len().div_ceil(4) as u32;
    {
        let backend = SVGBackend::with_string(&mut svg, (960, height));
        // As for metric charts: a layout error leaves a partial chart, never a failed report.
        let _ = draw_groups(backend, title, groups, series, reference, label.clamp(80, 380));
    }
    svg
}

fn draw_groups(
    backend: SVGBackend,
    title: &str,
    groups: &[String],
    series: &[GroupSeries],
    reference: Option<f64>,
    label_width: u32,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = backend.into_drawing_area();
    root.fill(&WHITE)?;
    // The legend goes below the plot, four models to a line, so it never hides a dot.
    let legend_height = 18 * series.len().div_ceil(4) as u32 + 8;
    let (plot, legend) = root.split_vertically(root.dim_in_pixel().1 - legend_height);
    let n = groups.len();
    let mut chart = ChartBuilder::on(&plot)
        .caption(title, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(label_width)
        .build_cartesian_2d(0f64..1f64, (0..n.saturating_sub(1)).into_segmented())?;
    chart
        .configure_mesh()
        .x_desc("accuracy (share of pairs, 0–1; higher is better)")
        .y_labels(n)
        .y_label_formatter(&|y| match y {
            // Rows run top to bottom in the table's order.
            SegmentValue::CenterOf(i) => groups.get(n - 1 - *i).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .x_label_formatter(&|x| format!("{x:.1}"))
        .light_line_style(WHITE)
        .draw()?;
    if let Some(x) = reference {
        let line = vec![(x, SegmentValue::Exact(0)), (x, SegmentValue::Last)];
        chart.draw_series(DashedLineSeries::new(line, 6, 4, RGBColor(180, 60, 60).stroke_width(1)))?;
    }
    let spread = series.len() as i32 - 1;
    for (k, (model, values)) in series.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let dy = 6 * k as i32 - 3 * spread;
        chart.draw_series(values.iter().enumerate().filter_map(|(i, v)| {
            let v = v.filter(|v| v.is_finite())?;
            Some(EmptyElement::at((v, SegmentValue::CenterOf(n - 1 - i))) + Circle::new((0, dy), 3, color.filled()))
        }))?;
        let (x, y) = (label_width as i32 + 12 + 150 * (k % 4) as i32, 10 + 18 * (k / 4) as i32);
        legend.draw(&Circle::new((x, y), 4, color.filled()))?;
        legend.draw(&Text::new(model.clone(), (x + 9, y - 7), ("sans-serif", 13)))?;
    }
    root.present()?;
    Ok(())
}

/// A scatter of systems: a judge's system score (x) against people's mean score (y), each point
/// labelled with its system, for the human-agreement view.
pub fn scatter_chart(title: &str, x_desc: &str, y_desc: &str, points: &[(String, f64, f64)]) -> String {
    let mut svg = String::new();
    let points: Vec<&(String, f64, f64)> = points.iter().filter(|p| p.1.is_finite() && p.2.is_finite()).collect();
    if points.len() < 2 {
        return svg;
    }
    {
        let backend = SVGBackend::with_string(&mut svg, (560, 360));
        let _ = draw_scatter(backend, title, x_desc, y_desc, &points);
    }
    svg
}

fn draw_scatter(
    backend: SVGBackend,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    points: &[&(String, f64, f64)],
) -> Result<(), Box<dyn std::error::Error>> {
    let root = backend.into_drawing_area();
    root.fill(&WHITE)?;
    let span = |f: fn(&(String, f64, f64)) -> f64| {
        let (lo, hi) = points.iter().map(|p| f(p)).fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
        let pad = ((hi - lo) * 0.1).max(hi.abs().max(1e-9) * 1e-3);
        (lo - pad)..(hi + pad)
    };
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 15))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(span(|p| p.1), span(|p| p.2))?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&|x| super::fmt_value(*x))
        .y_label_formatter(&|y| super::fmt_value(*y))
        .draw()?;
    chart.draw_series(points.iter().map(|p| Circle::new((p.1, p.2), 4, POINT.filled())))?;
    chart.draw_series(
        points.iter().map(|p| Text::new(p.0.clone(), (p.1, p.2), ("sans-serif", 10).into_font().color(&WHISKER))),
    )?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_charts_keep_one_labelled_row_per_group_at_blimp_scale() {
        let groups: Vec<String> = (0..67).map(|i| format!("phenomenon_<{i}>")).collect();
        let series: Vec<GroupSeries> = (0..10)
            .map(|m| (format!("model {m}"), (0..67).map(|g| (g != m).then_some((g * m % 10) as f64 / 10.0)).collect()))
            .collect();
        let svg = group_chart("blimp: accuracy by UID", &groups, &series, Some(0.5));
        // Every group is named once (escaped) and every scored value is a dot, plus the legend's.
        for g in &groups {
            assert_eq!(svg.matches(&g.replace('<', "&lt;").replace('>', "&gt;")).count(), 1, "{g}");
        }
        assert_eq!(svg.matches("<circle").count(), 10 * 66 + 10);
        // Rows keep their height: the chart grows with the groups instead of squeezing them.
        let height = |svg: &str| -> u32 {
            let at = svg.find("height=\"").unwrap() + 8;
            svg[at..].split('"').next().unwrap().parse().unwrap()
        };
        let small = group_chart("t", &groups[..5], &series[..2], None);
        assert!(height(&svg) > 67 * 16 && height(&small) < 300, "{} {}", height(&svg), height(&small));
        assert!(group_chart("t", &[], &series, None).is_empty());
    }
}

//! Inline SVG charts (plotters): one per task and metric, models side by side, each a point on a
//! bar with its 95% interval as a whisker. plotters' SVG backend escapes all text it writes.

use plotters::prelude::*;

use crate::store::ResultRow;

const BAR: RGBColor = RGBColor(76, 114, 176);
const WHISKER: RGBColor = RGBColor(40, 40, 40);

/// An SVG chart of one metric across models; `rows` are that task's rows for that metric.
pub fn metric_chart(title: &str, rows: &[&ResultRow]) -> String {
    let mut svg = String::new();
    if rows.is_empty() {
        return svg;
    }
    let width = (160 + 110 * rows.len() as u32).clamp(420, 960);
    {
        let backend = SVGBackend::with_string(&mut svg, (width, 300));
        // Drawing into a String cannot fail for I/O reasons; a layout failure leaves a partial
        // chart, which is still better than none, so errors are ignored.
        let _ = draw(backend, title, rows);
    }
    svg
}

fn draw(backend: SVGBackend, title: &str, rows: &[&ResultRow]) -> Result<(), Box<dyn std::error::Error>> {
    let root = backend.into_drawing_area();
    root.fill(&WHITE)?;
    let finite = |v: f64| if v.is_finite() { Some(v) } else { None };
    let hi = rows
        .iter()
        .flat_map(|r| [finite(r.value), finite(r.ci_high)])
        .flatten()
        .fold(f64::MIN, f64::max);
    let hi = if hi > 0.0 { hi * 1.12 } else { 1.0 };
    let n = rows.len();
    let labels: Vec<String> = rows.iter().map(|r| r.model.clone()).collect();
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d((0..n).into_segmented(), 0.0..hi)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&|x| match x {
            SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .y_label_formatter(&|y| super::fmt_value(*y))
        .draw()?;
    chart.draw_series(rows.iter().enumerate().filter_map(|(i, r)| {
        finite(r.value).map(|v| {
            let mut bar = Rectangle::new([(SegmentValue::Exact(i), 0.0), (SegmentValue::Exact(i + 1), v)], BAR.mix(0.75).filled());
            bar.set_margin(0, 0, 18, 18);
            bar
        })
    }))?;
    chart.draw_series(rows.iter().enumerate().filter_map(|(i, r)| {
        match (finite(r.value), finite(r.ci_low), finite(r.ci_high)) {
            (Some(v), Some(lo), Some(hi)) => {
                Some(ErrorBar::new_vertical(SegmentValue::CenterOf(i), lo, v, hi, WHISKER.stroke_width(2), 12))
            }
            _ => None,
        }
    }))?;
    root.present()?;
    Ok(())
}

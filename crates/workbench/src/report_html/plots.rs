//! Maelstrom's three performance plots, drawn to inline SVG with `plotters`: latency of every
//! op over time (by `f` and outcome), latency quantiles per time bucket, and throughput per time
//! bucket. Nemesis periods are shaded on each.

use std::collections::BTreeMap;

use plotters::backend::DrawingBackend as _;
use plotters::prelude::*;

use crate::checkers::quantile;
use crate::history::{Nanos, OpType, Pair};

/// A time span of the test (seconds) during which a fault was active.
#[derive(Clone, Debug)]
pub struct Period {
    pub start: f64,
    pub end: f64,
    pub label: String,
}

/// Points drawn at most on the raw-latency plot; a larger history is thinned evenly.
const MAX_POINTS: usize = 20_000;
const SIZE: (u32, u32) = (1100, 340);

const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(23, 190, 207),
];
const SHADE: RGBColor = RGBColor(255, 215, 215);

fn secs(t: Nanos) -> f64 {
    t as f64 / 1e9
}

fn ms(t: Nanos) -> f64 {
    t as f64 / 1e6
}

/// Distinct `f`s in first-seen order, each with a colour.
fn colours(pairs: &[Pair<'_>]) -> BTreeMap<String, RGBColor> {
    let mut out = BTreeMap::new();
    for pair in pairs {
        // Looked up first: an `f` is copied once, not once per op.
        if !out.contains_key(pair.invoke.f.as_str()) {
            let n = out.len();
            out.insert(
                pair.invoke.f.as_str().to_owned(),
                PALETTE[n % PALETTE.len()],
            );
        }
    }
    out
}

/// The three plots as SVG documents, of the history's pairs: raw latency, quantiles, throughput.
pub fn plots(pairs: &[Pair<'_>], end: Nanos, periods: &[Period]) -> anyhow::Result<[String; 3]> {
    let x_max = secs(end).max(0.001);
    let colour = colours(pairs);
    Ok([
        latency_raw(pairs, &colour, x_max, periods)?,
        latency_quantiles(pairs, &colour, x_max, periods)?,
        throughput(pairs, &colour, x_max, periods)?,
    ])
}

/// A bucket width that gives about 60 buckets over the run, rounded to a readable value.
fn bucket_secs(x_max: f64) -> f64 {
    let raw = x_max / 60.0;
    let candidates = [
        0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0,
    ];
    candidates
        .iter()
        .copied()
        .find(|&c| c >= raw)
        .unwrap_or(60.0)
}

/// Shades the fault periods (a macro: plotters' chart types are awkward to name).
macro_rules! shade {
    ($chart:expr, $periods:expr, $y:expr) => {{
        let mut first = true;
        for p in $periods {
            let series = $chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(p.start, $y.0), (p.end, $y.1)],
                    SHADE.filled(),
                )))
                .map_err(|e| anyhow::anyhow!("drawing: {e}"))?;
            if first {
                series
                    .label("partition")
                    .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], SHADE.filled()));
                first = false;
            }
        }
    }};
}

macro_rules! legend {
    ($chart:expr) => {
        $chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 11))
            .draw()
            .map_err(|e| anyhow::anyhow!("{e}"))?
    };
}

/// A series' points: (time in s, latency in ms).
type Points = Vec<(f64, f64)>;

/// The distinct `f`s with their colours, by `f` (see [`colours`]).
type Colours = BTreeMap<String, RGBColor>;

/// The slot of `key` in `slots` (added at the end when new): a handful of keys, looked up by
/// a scan rather than a map per op.
fn slot<K: PartialEq + Copy, V>(
    slots: &mut Vec<(K, V)>,
    key: K,
    new: impl FnOnce() -> V,
) -> &mut V {
    let i = match slots.iter().position(|(k, _)| *k == key) {
        Some(i) => i,
        None => {
            slots.push((key, new()));
            slots.len() - 1
        }
    };
    &mut slots[i].1
}

fn latency_raw(
    pairs: &[Pair<'_>],
    colour: &Colours,
    x_max: f64,
    periods: &[Period],
) -> anyhow::Result<String> {
    let completed: Vec<&Pair<'_>> = pairs.iter().filter(|p| p.completion.is_some()).collect();
    let step = completed.len().div_ceil(MAX_POINTS).max(1);
    let y_max = completed
        .iter()
        .filter_map(|p| p.latency())
        .map(ms)
        .fold(1.0f64, f64::max)
        * 1.3;
    let mut svg = String::new();
    // Each series of circles: its marker and its elements' text.
    let mut clouds: Vec<(String, String)> = Vec::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
        let caption = if step > 1 {
            format!("Latency of every op (1 in {step} shown)")
        } else {
            "Latency of every op".to_string()
        };
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(32)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..x_max, (0.01f64..y_max).log_scale())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        chart
            .configure_mesh()
            .x_desc("time (s)")
            .y_desc("latency (ms)")
            .light_line_style(WHITE)
            .draw()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        shade!(chart, periods, (0.01, y_max));
        // The points shown, by f and outcome (in one pass, in the history's order).
        let mut groups: Vec<((&str, OpType), Points)> = Vec::new();
        for p in completed.iter().step_by(step) {
            let latency = p.latency().map_or(0.0, ms).max(0.01);
            slot(&mut groups, (p.invoke.f.as_str(), p.outcome()), Vec::new)
                .push((secs(p.invoke.time), latency));
        }
        for (f, c) in colour {
            for (outcome, name) in [
                (OpType::Ok, "ok"),
                (OpType::Info, "info"),
                (OpType::Fail, "fail"),
            ] {
                let points: Vec<(f64, f64)> = groups
                    .iter_mut()
                    .find(|(key, _)| *key == (f.as_str(), outcome))
                    .map(|(_, points)| std::mem::take(points))
                    .unwrap_or_default();
                if points.is_empty() {
                    continue;
                }
                let c = *c;
                let style = match outcome {
                    OpType::Ok => c.filled(),
                    _ => c.stroke_width(1),
                };
                let series = match outcome {
                    OpType::Fail => chart.draw_series(
                        points
                            .iter()
                            .map(move |&p| Cross::new(p, 3, style).into_dyn()),
                    ),
                    OpType::Info => chart.draw_series(
                        points
                            .iter()
                            .map(move |&p| TriangleMarker::new(p, 3, style).into_dyn()),
                    ),
                    _ => {
                        // Thousands of circles: written here from plotters' own text for one
                        // (plotters takes some 5000 instructions per circle), in place of a
                        // marker that holds this series' place in the drawing order.
                        let circle = CircleText::of(style)?;
                        let mut text = String::with_capacity(points.len() * circle.len());
                        for p in &points {
                            circle.push(&mut text, chart.backend_coord(p));
                        }
                        let marker = format!("{CLOUD_MARKER}{}", clouds.len());
                        clouds.push((marker.clone(), text));
                        chart.draw_series(std::iter::once(
                            Text::new(marker, points[0], ("sans-serif", 10).into_font()).into_dyn(),
                        ))
                    }
                }
                .map_err(|e| anyhow::anyhow!("{e}"))?;
                series
                    .label(format!("{f} {name}"))
                    .legend(move |(x, y)| Circle::new((x + 5, y), 3, c.filled()));
            }
        }
        legend!(chart);
        root.present().map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    for (marker, circles) in &clouds {
        svg = replace_marker(&svg, marker, circles)?;
    }
    Ok(svg)
}

/// The text of a marker element that stands for a series of circles in [`latency_raw`].
const CLOUD_MARKER: &str = "glomers-points-";

/// `svg` with the `<text>` element that holds `marker` replaced by `replacement`.
fn replace_marker(svg: &str, marker: &str, replacement: &str) -> anyhow::Result<String> {
    let missing = || anyhow::anyhow!("plot marker {marker} not found");
    // plotters writes a text element's text on a line of its own.
    let text = svg.find(&format!("\n{marker}\n")).ok_or_else(missing)?;
    let start = svg[..text].rfind("<text").ok_or_else(missing)?;
    let close = "</text>\n";
    let end = text + svg[text..].find(close).ok_or_else(missing)? + close.len();
    let mut out = String::with_capacity(svg.len() + replacement.len());
    out.push_str(&svg[..start]);
    out.push_str(replacement);
    out.push_str(&svg[end..]);
    Ok(out)
}

/// A circle's SVG element as plotters writes it for a style, split around its centre's
/// coordinates (taken from a circle plotters drew, so that the text is the same).
struct CircleText {
    before_x: String,
    before_y: String,
    after_y: String,
}

impl CircleText {
    fn of(style: ShapeStyle) -> anyhow::Result<CircleText> {
        const X: i32 = 1_234_567;
        const Y: i32 = 7_654_321;
        let mut svg = String::new();
        {
            let mut backend = SVGBackend::with_string(&mut svg, (8, 8));
            backend
                .draw_circle((X, Y), 2, &style, style.filled)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            backend.present().map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        let bad = || anyhow::anyhow!("unexpected circle element in {svg}");
        let start = svg.find("<circle").ok_or_else(bad)?;
        let end = start + svg[start..].find('\n').ok_or_else(bad)? + 1;
        let line = &svg[start..end];
        let (before_x, rest) = line.split_once(&X.to_string()).ok_or_else(bad)?;
        let (before_y, after_y) = rest.split_once(&Y.to_string()).ok_or_else(bad)?;
        Ok(CircleText {
            before_x: before_x.to_string(),
            before_y: before_y.to_string(),
            after_y: after_y.to_string(),
        })
    }

    /// About the length of one circle's text.
    fn len(&self) -> usize {
        self.before_x.len() + self.before_y.len() + self.after_y.len() + 8
    }

    fn push(&self, out: &mut String, (x, y): (i32, i32)) {
        let mut digits = itoa::Buffer::new();
        out.push_str(&self.before_x);
        out.push_str(digits.format(x));
        out.push_str(&self.before_y);
        out.push_str(digits.format(y));
        out.push_str(&self.after_y);
    }
}

fn latency_quantiles(
    pairs: &[Pair<'_>],
    colour: &Colours,
    x_max: f64,
    periods: &[Period],
) -> anyhow::Result<String> {
    let width = bucket_secs(x_max);
    // f -> bucket -> ok latencies (ms), gathered per f in the order seen, buckets by index.
    let mut by_f: Vec<(&str, Vec<Vec<f64>>)> = Vec::new();
    for p in pairs {
        if p.outcome() != OpType::Ok {
            continue;
        }
        let Some(latency) = p.latency() else { continue };
        let b = (secs(p.invoke.time) / width) as usize;
        let per_bucket = slot(&mut by_f, p.invoke.f.as_str(), Vec::new);
        if per_bucket.len() <= b {
            per_bucket.resize_with(b + 1, Vec::new);
        }
        per_bucket[b].push(ms(latency));
    }
    // By f, and only the buckets with a latency, ascending (as maps of them would be).
    let mut buckets: BTreeMap<&str, Vec<(u64, Vec<f64>)>> = BTreeMap::new();
    for (f, per_bucket) in by_f {
        let filled = per_bucket
            .into_iter()
            .enumerate()
            .filter(|(_, v)| !v.is_empty());
        buckets.insert(f, filled.map(|(b, v)| (b as u64, v)).collect());
    }
    let y_max = buckets
        .values()
        .flat_map(|b| b.iter().flat_map(|(_, v)| v))
        .copied()
        .fold(1.0f64, f64::max)
        * 1.3;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("Latency quantiles of ok ops per {width} s"),
                ("sans-serif", 16),
            )
            .margin(8)
            .x_label_area_size(32)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..x_max, (0.01f64..y_max).log_scale())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        chart
            .configure_mesh()
            .x_desc("time (s)")
            .y_desc("latency (ms)")
            .light_line_style(WHITE)
            .draw()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        shade!(chart, periods, (0.01, y_max));
        for (f, by_bucket) in &mut buckets {
            let c = colour[*f];
            for (q, name, dash) in [
                (0.5, "p50", 1u32),
                (0.95, "p95", 2),
                (0.99, "p99", 3),
                (1.0, "max", 4),
            ] {
                let line: Vec<(f64, f64)> = by_bucket
                    .iter_mut()
                    .map(|(b, v)| {
                        v.sort_by(f64::total_cmp);
                        let y = quantile(v, q).unwrap_or(0.0).max(0.01);
                        ((*b as f64 + 0.5) * width, y)
                    })
                    .collect();
                let style = c
                    .mix(1.0 - 0.18 * (dash - 1) as f64)
                    .stroke_width(dash.min(2));
                chart
                    .draw_series(LineSeries::new(line, style))
                    .map_err(|e| anyhow::anyhow!("{e}"))?
                    .label(format!("{f} {name}"))
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 12, y)], style));
            }
        }
        legend!(chart);
        root.present().map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(svg)
}

fn throughput(
    pairs: &[Pair<'_>],
    colour: &Colours,
    x_max: f64,
    periods: &[Period],
) -> anyhow::Result<String> {
    let width = bucket_secs(x_max);
    let n_buckets = (x_max / width).ceil() as usize + 1;
    // (f, outcome) -> completions per bucket, in the order seen.
    let mut seen: Vec<((&str, &'static str), Vec<f64>)> = Vec::new();
    for p in pairs {
        let Some(done) = p.completion else { continue };
        let outcome = match done.kind {
            OpType::Ok => "ok",
            OpType::Fail => "fail",
            _ => "info",
        };
        let b = ((secs(done.time) / width) as usize).min(n_buckets - 1);
        slot(&mut seen, (p.invoke.f.as_str(), outcome), || {
            vec![0.0; n_buckets]
        })[b] += 1.0 / width;
    }
    let counts: BTreeMap<(&str, &'static str), Vec<f64>> = seen.into_iter().collect();
    let y_max = counts.values().flatten().copied().fold(1.0f64, f64::max) * 1.15;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("Throughput (completions per second, {width} s buckets)"),
                ("sans-serif", 16),
            )
            .margin(8)
            .x_label_area_size(32)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        chart
            .configure_mesh()
            .x_desc("time (s)")
            .y_desc("ops/s")
            .light_line_style(WHITE)
            .draw()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        shade!(chart, periods, (0.0, y_max));
        for ((f, outcome), series) in &counts {
            let c = colour[*f];
            let style = match *outcome {
                "ok" => c.stroke_width(2),
                "fail" => RED.mix(0.8).stroke_width(1),
                _ => c.mix(0.5).stroke_width(1),
            };
            let line = series
                .iter()
                .enumerate()
                .map(|(b, &y)| ((b as f64 + 0.5) * width, y));
            chart
                .draw_series(LineSeries::new(line, style))
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .label(format!("{f} {outcome}"))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 12, y)], style));
        }
        legend!(chart);
        root.present().map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(svg)
}

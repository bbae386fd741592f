//! What a run produces: the summary on stdout, the JSON document (`--json`), and the report
//! directory (`--report`): SVG charts drawn with `plotters` and an `index.html` that shows them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;
use serde::Serialize;

use crate::engine::RunResult;
use crate::stats::{Hist, Percentiles, TimePoint};

#[derive(Clone, Debug, Serialize)]
pub struct CommandJson {
    pub name: String,
    pub requests: u64,
    pub ok: u64,
    pub errors: u64,
    pub ops_per_sec: f64,
    pub latency: Percentiles,
}

#[derive(Clone, Debug, Serialize)]
pub struct CpuJson {
    pub user_s: f64,
    pub sys_s: f64,
    pub total_s: f64,
    pub ns_per_request: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ServerCpuJson {
    pub pid: u32,
    pub total_s: f64,
    pub ns_per_request: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct RedirectsJson {
    pub moved: u64,
    pub ask: u64,
}

/// Every figure of one run.
#[derive(Clone, Debug, Serialize)]
pub struct RunJson {
    pub label: String,
    pub endpoint: String,
    pub elapsed_s: f64,
    /// Requests that got a reply (error replies included) or failed.
    pub requests: u64,
    pub ops_per_sec: f64,
    pub errors: u64,
    pub errors_by_kind: BTreeMap<String, u64>,
    pub redirects: RedirectsJson,
    /// Connections that broke during the run.
    pub connections_broken: u64,
    /// `--rate`: requests that were due but not sent before the run ended.
    pub unsent: u64,
    pub latency: Percentiles,
    pub commands: Vec<CommandJson>,
    pub client_cpu: CpuJson,
    pub server_cpu: Option<ServerCpuJson>,
    pub timeline: Vec<TimePoint>,
}

impl RunJson {
    pub fn new(label: &str, r: &RunResult, server_pid: Option<u32>) -> RunJson {
        let requests = r.completed();
        let per_req = |ns: u64| {
            if requests > 0 {
                ns as f64 / requests as f64
            } else {
                0.0
            }
        };
        RunJson {
            label: label.to_string(),
            endpoint: r.endpoint.clone(),
            elapsed_s: r.elapsed_s,
            requests,
            ops_per_sec: r.ops_per_sec(),
            errors: r.error_count(),
            errors_by_kind: r.error_kinds.sorted().into_iter().collect(),
            redirects: RedirectsJson {
                moved: r.moved,
                ask: r.ask,
            },
            connections_broken: r.broken,
            unsent: r.unsent,
            latency: Percentiles::of(&r.all),
            commands: r
                .names
                .iter()
                .enumerate()
                .map(|(i, name)| CommandJson {
                    name: name.clone(),
                    requests: r.ok[i] + r.errors[i],
                    ok: r.ok[i],
                    errors: r.errors[i],
                    ops_per_sec: if r.elapsed_s > 0.0 {
                        (r.ok[i] + r.errors[i]) as f64 / r.elapsed_s
                    } else {
                        0.0
                    },
                    latency: Percentiles::of(&r.hists[i]),
                })
                .collect(),
            client_cpu: CpuJson {
                user_s: r.client_cpu.user_ns as f64 / 1e9,
                sys_s: r.client_cpu.sys_ns as f64 / 1e9,
                total_s: r.client_cpu.total_ns() as f64 / 1e9,
                ns_per_request: per_req(r.client_cpu.total_ns()),
            },
            server_cpu: match (r.server_cpu_ns, server_pid) {
                (Some(ns), Some(pid)) => Some(ServerCpuJson {
                    pid,
                    total_s: ns as f64 / 1e9,
                    ns_per_request: per_req(ns),
                }),
                _ => None,
            },
            timeline: r.timeline.clone(),
        }
    }
}

fn ms(us: f64) -> String {
    format!("{:.3}", us / 1000.0)
}

/// The human summary of one run.
pub fn summary_text(run: &RunJson) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<12} {:>10} {:>11} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "command", "requests", "ops/s", "errors", "p50", "p90", "p99", "p99.9", "p99.99", "max"
    );
    let mut row = |name: &str, requests: u64, ops: f64, errors: u64, p: &Percentiles| {
        let _ = writeln!(
            s,
            "{:<12} {:>10} {:>11.0} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
            name,
            requests,
            ops,
            errors,
            ms(p.p50_us),
            ms(p.p90_us),
            ms(p.p99_us),
            ms(p.p999_us),
            ms(p.p9999_us),
            ms(p.max_us)
        );
    };
    for c in &run.commands {
        row(&c.name, c.requests, c.ops_per_sec, c.errors, &c.latency);
    }
    if run.commands.len() > 1 {
        row(
            "ALL",
            run.requests,
            run.ops_per_sec,
            run.errors,
            &run.latency,
        );
    }
    let _ = writeln!(s, "(latencies in milliseconds)");
    let _ = writeln!(
        s,
        "elapsed {:.2} s, {:.0} requests/s",
        run.elapsed_s, run.ops_per_sec
    );
    let c = &run.client_cpu;
    let _ = writeln!(
        s,
        "client CPU {:.3} s (user {:.3} + sys {:.3}): {:.0} ns per request",
        c.total_s, c.user_s, c.sys_s, c.ns_per_request
    );
    if let Some(sc) = &run.server_cpu {
        let _ = writeln!(
            s,
            "server CPU (pid {}) {:.3} s: {:.0} ns per request",
            sc.pid, sc.total_s, sc.ns_per_request
        );
    }
    if run.errors == 0 {
        let _ = writeln!(s, "errors: none");
    } else {
        let kinds: Vec<String> = run
            .errors_by_kind
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        let _ = writeln!(s, "errors: {}", kinds.join(", "));
    }
    if run.redirects.moved + run.redirects.ask > 0 {
        let _ = writeln!(
            s,
            "redirects: MOVED {}, ASK {}",
            run.redirects.moved, run.redirects.ask
        );
    }
    if run.connections_broken > 0 {
        let _ = writeln!(s, "connections broken: {}", run.connections_broken);
    }
    if run.unsent > 0 {
        let _ = writeln!(
            s,
            "unsent: {} requests were due but not sent (the offered rate was not reached)",
            run.unsent
        );
    }
    s
}

/// One line of a chart.
#[derive(Clone, Debug)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

impl Series {
    pub fn new(label: impl Into<String>, points: Vec<(f64, f64)>) -> Series {
        Series {
            label: label.into(),
            points,
        }
    }
}

/// How the y axis is scaled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum YScale {
    Linear,
    Log,
}

/// A line chart as an SVG file. `x_fmt` labels the x axis ticks.
pub fn line_chart(
    path: &Path,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[Series],
    y_scale: YScale,
    x_axis: XAxis,
) -> Result<(), String> {
    let x_fmt = x_axis.format;
    let err = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let pts = || series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1) = pts().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    if x0 > x1 {
        (x0, x1) = (0.0, 1.0);
    }
    if x_axis.from_zero {
        x0 = x0.min(0.0);
    }
    if x_axis.whole_ticks {
        x0 = x0.floor();
        x1 = x1.ceil();
    } else if !x_axis.from_zero {
        let pad = (x1 - x0) * 0.05;
        (x0, x1) = (x0 - pad, x1 + pad);
    }
    if x1 - x0 < 1e-9 {
        x1 = x0 + 1.0;
    }
    let root = SVGBackend::new(path, (960, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(title, ("sans-serif", 20))
        .margin(16)
        .margin_right(48)
        .x_label_area_size(44)
        .y_label_area_size(76);
    let palette = |i: usize| Palette99::pick(i).to_rgba();
    macro_rules! draw {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(x_desc)
                .y_desc(y_desc)
                .x_label_formatter(x_fmt)
                .x_labels(if x_axis.whole_ticks {
                    ((x1 - x0) as usize + 1).min(12)
                } else {
                    10
                })
                .y_label_formatter(&|v: &f64| short_number(*v))
                .light_line_style(RGBColor(236, 236, 236))
                .draw()
                .map_err(|e| err(&e))?;
            for (i, s) in series.iter().enumerate() {
                let color = palette(i);
                chart
                    .draw_series(LineSeries::new(
                        s.points.iter().copied(),
                        color.stroke_width(2),
                    ))
                    .map_err(|e| err(&e))?
                    .label(s.label.as_str())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                    });
                // Markers while the points are few, so a one-point line still shows.
                if s.points.len() <= 60 {
                    chart
                        .draw_series(s.points.iter().map(|&p| Circle::new(p, 3, color.filled())))
                        .map_err(|e| err(&e))?;
                }
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(180, 180, 180))
                .draw()
                .map_err(|e| err(&e))?;
        }};
    }
    let ys = || pts().map(|p| p.1).filter(|v| v.is_finite());
    match y_scale {
        YScale::Linear => {
            let top = ys().fold(0.0f64, f64::max);
            let top = if top <= 0.0 { 1.0 } else { top * 1.1 };
            draw!(builder
                .build_cartesian_2d(x0..x1, 0.0..top)
                .map_err(|e| err(&e))?);
        }
        YScale::Log => {
            let lo = ys().filter(|v| *v > 0.0).fold(f64::MAX, f64::min);
            let hi = ys().fold(0.0f64, f64::max);
            let (lo, hi) = if lo > hi { (1.0, 10.0) } else { (lo, hi) };
            // Whole decades around the data, so the ticks are round numbers.
            let lo = 10f64.powf(lo.log10().floor());
            let hi = 10f64.powf((hi * 1.05).log10().ceil()).max(lo * 10.0);
            draw!(builder
                .build_cartesian_2d(x0..x1, (lo..hi).log_scale())
                .map_err(|e| err(&e))?);
        }
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// How the x axis is labelled.
#[derive(Clone, Copy)]
pub struct XAxis<'a> {
    pub format: &'a dyn Fn(&f64) -> String,
    /// Start at 0 even when the data starts later.
    pub from_zero: bool,
    /// Ticks on whole numbers only.
    pub whole_ticks: bool,
}

/// Seconds: "2s", "2.5s".
pub fn seconds_label(x: &f64) -> String {
    if (x - x.round()).abs() < 1e-6 {
        format!("{x:.0}s")
    } else {
        format!("{x:.1}s")
    }
}

/// The x axis of a timeline.
pub const TIME_AXIS: XAxis<'static> = XAxis {
    format: &seconds_label,
    from_zero: true,
    whole_ticks: false,
};

/// 1234567 → "1.23M", 0.05 → "0.05".
pub fn short_number(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.3}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// The percentile spectrum of a histogram: x in "nines" (0 = 0%, 1 = 90%, 2 = 99%, 3 = 99.9%,
/// ...), y the latency in microseconds.
pub fn spectrum(h: &Hist) -> Vec<(f64, f64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let max_nines = 6.0f64;
    let steps = 120;
    let n = h.len() as f64;
    for i in 0..=steps {
        let x = max_nines * i as f64 / steps as f64;
        if 10f64.powf(-x) * n < 1.0 {
            // Beyond the last sample: the maximum, and stop.
            out.push((x, (h.max() as f64 / 1000.0).max(0.001)));
            return out;
        }
        let q = 1.0 - 10f64.powf(-x);
        out.push((x, (h.value_at_quantile(q) as f64 / 1000.0).max(0.001)));
    }
    out
}

/// Label of a "nines" x value: 0 → "0%", 2 → "99%", 2.5 → "99.68%".
pub fn nines_label(x: &f64) -> String {
    let q = (1.0 - 10f64.powf(-*x)) * 100.0;
    if x.fract().abs() < 1e-9 {
        let digits = (*x as usize).saturating_sub(2);
        format!("{q:.digits$}%")
    } else {
        format!("{q:.2}%")
    }
}

/// The three standard charts of one or more runs (one line per run), written into `dir`.
/// Returns the file names.
pub fn standard_charts(
    dir: &Path,
    runs: &[(&str, &[TimePoint], &Hist)],
) -> Result<Vec<String>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let throughput: Vec<Series> = runs
        .iter()
        .map(|(label, tl, _)| {
            Series::new(*label, tl.iter().map(|p| (p.t, p.ops_per_sec)).collect())
        })
        .collect();
    line_chart(
        &dir.join("throughput.svg"),
        "Throughput over time",
        "time since start",
        "requests per second",
        &throughput,
        YScale::Linear,
        TIME_AXIS,
    )?;
    let mut latency = Vec::new();
    type Pick = fn(&TimePoint) -> f64;
    let picks: [(&str, Pick); 5] = [
        ("p50", |p| p.p50_us),
        ("p90", |p| p.p90_us),
        ("p99", |p| p.p99_us),
        ("p99.9", |p| p.p999_us),
        ("max", |p| p.max_us),
    ];
    for (label, tl, _) in runs {
        for (name, pick) in picks.iter() {
            // With several runs, only p50 and p99 each, or the chart becomes unreadable.
            if runs.len() > 1 && !matches!(*name, "p50" | "p99") {
                continue;
            }
            let name = if runs.len() > 1 {
                format!("{label} {name}")
            } else {
                name.to_string()
            };
            let pts = tl
                .iter()
                .filter(|p| p.ops > 0)
                .map(|p| (p.t, pick(p).max(0.001)))
                .collect();
            latency.push(Series::new(name, pts));
        }
    }
    line_chart(
        &dir.join("latency-over-time.svg"),
        "Latency percentiles per second",
        "time since start",
        "latency (µs)",
        &latency,
        YScale::Log,
        TIME_AXIS,
    )?;
    let dist: Vec<Series> = runs
        .iter()
        .map(|(label, _, h)| Series::new(*label, spectrum(h)))
        .collect();
    line_chart(
        &dir.join("latency-distribution.svg"),
        "Latency by percentile",
        "percentile",
        "latency (µs)",
        &dist,
        YScale::Log,
        XAxis {
            format: &nines_label,
            from_zero: true,
            whole_ticks: true,
        },
    )?;
    Ok(vec![
        "throughput.svg".into(),
        "latency-over-time.svg".into(),
        "latency-distribution.svg".into(),
    ])
}

pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A table of runs for the HTML page.
pub fn runs_table(runs: &[&RunJson]) -> String {
    let mut s = String::from(
        "<table><tr><th>run</th><th>endpoint</th><th>requests</th><th>ops/s</th><th>errors</th>\
<th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>p99.99 ms</th><th>max ms</th>\
<th>client CPU ns/req</th><th>server CPU ns/req</th></tr>\n",
    );
    for r in runs {
        let p = &r.latency;
        let server = r
            .server_cpu
            .as_ref()
            .map_or("-".to_string(), |c| format!("{:.0}", c.ns_per_request));
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.0}</td><td>{}</td><td>{}</td><td>{}</td>\
<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.0}</td><td>{}</td></tr>",
            html_escape(&r.label),
            html_escape(&r.endpoint),
            r.requests,
            r.ops_per_sec,
            r.errors,
            ms(p.p50_us),
            ms(p.p90_us),
            ms(p.p99_us),
            ms(p.p999_us),
            ms(p.p9999_us),
            ms(p.max_us),
            r.client_cpu.ns_per_request,
            server
        );
    }
    s.push_str("</table>\n");
    s
}

/// Write `index.html`: a title, free HTML sections, then the charts.
pub fn write_index(
    dir: &Path,
    title: &str,
    command_line: &str,
    sections: &[String],
    charts: &[String],
) -> Result<(), String> {
    let mut page = String::new();
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title>\n<style>\
body{{font-family:sans-serif;margin:2em;color:#222}} table{{border-collapse:collapse;margin:1em 0}}\
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}} th{{background:#f4f4f4}}\
td:first-child,th:first-child{{text-align:left}} code{{background:#f4f4f4;padding:2px 4px}}\
img{{display:block;max-width:100%;margin:1em 0;border:1px solid #eee}}</style></head><body>\n\
<h1>{t}</h1>\n<p><code>{c}</code></p>\n",
        t = html_escape(title),
        c = html_escape(command_line)
    );
    for s in sections {
        page.push_str(s);
        page.push('\n');
    }
    for c in charts {
        let _ = writeln!(page, "<img src=\"{0}\" alt=\"{0}\">", html_escape(c));
    }
    page.push_str("</body></html>\n");
    let path = dir.join("index.html");
    std::fs::write(&path, page).map_err(|e| format!("{}: {e}", path.display()))
}

/// Write the JSON document.
pub fn write_json(path: &Path, doc: &impl Serialize) -> Result<(), String> {
    let text = serde_json::to_string_pretty(doc).map_err(|e| e.to_string())?;
    std::fs::write(path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::new_hist;

    fn timeline(scale: f64) -> Vec<TimePoint> {
        (1..=5)
            .map(|i| TimePoint {
                t: i as f64,
                ops: 1000,
                ops_per_sec: 1000.0 * scale + i as f64,
                errors: 0,
                p50_us: 50.0 * scale,
                p90_us: 90.0,
                p99_us: 99.0 * scale,
                p999_us: 300.0,
                max_us: 1000.0,
            })
            .collect()
    }

    fn svg_ok(path: &Path) {
        let text = std::fs::read_to_string(path).unwrap();
        assert!(text.len() > 2000, "{} is too small", path.display());
        assert!(text.contains("<svg"), "{} is not SVG", path.display());
        assert!(
            text.contains("<polyline") || text.contains("<path"),
            "no lines in {}",
            path.display()
        );
    }

    #[test]
    fn charts_and_index_are_written() {
        let dir = std::env::temp_dir().join(format!("tern-bench-report-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut h = new_hist();
        for v in 1..=100_000u64 {
            h.record(20_000 + v % 5_000 * 10).unwrap();
        }
        let mut h2 = new_hist();
        h2.record(1).unwrap();
        let (a, b) = (timeline(1.0), timeline(2.0));
        let charts = standard_charts(&dir, &[("one", &a, &h), ("two", &b, &h2)]).unwrap();
        assert_eq!(charts.len(), 3);
        for c in &charts {
            svg_ok(&dir.join(c));
        }
        let text = std::fs::read_to_string(dir.join("throughput.svg")).unwrap();
        assert!(
            text.contains("one") && text.contains("two"),
            "legend missing"
        );
        write_index(
            &dir,
            "A <report>",
            "tern bench -p 1",
            &["<p>x</p>".into()],
            &charts,
        )
        .unwrap();
        let page = std::fs::read_to_string(dir.join("index.html")).unwrap();
        assert!(page.contains("A &lt;report&gt;"));
        for c in &charts {
            assert!(page.contains(&format!("src=\"{c}\"")));
        }
        // Empty data still gives a valid (empty) chart rather than an error.
        standard_charts(&dir.join("empty"), &[("none", &[], &new_hist())]).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn spectrum_and_labels() {
        let mut h = new_hist();
        for v in 1..=1000u64 {
            h.record(v * 1000).unwrap();
        }
        let s = spectrum(&h);
        assert!(s.len() > 10);
        assert!(s.windows(2).all(|w| w[0].1 <= w[1].1 && w[0].0 <= w[1].0));
        assert!((s.last().unwrap().1 - 1000.0).abs() < 1.0);
        assert_eq!(nines_label(&0.0), "0%");
        assert_eq!(nines_label(&1.0), "90%");
        assert_eq!(nines_label(&3.0), "99.9%");
        assert_eq!(short_number(1_234_567.0), "1.23M");
        assert_eq!(short_number(0.5), "0.500");
    }
}

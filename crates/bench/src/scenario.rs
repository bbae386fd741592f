//! Scenarios: named sequences of runs with their own verdict. `--scenario NAME` looks the name up
//! in [`REGISTRY`]; later scenarios (failover, scale-out, ...) join the same table.
//!
//! `smoke-burst`: the workload of the command line at ×1, then with ×2, ×5 and ×10 the
//! connections (and the offered rate, with `--rate`), one step after the other, to show where
//! latency bends: the first step whose throughput no longer grows with the load (less than 80% of
//! the load factor, relative to ×1) or whose p99 more than doubles over the step before.

use serde::Serialize;

use crate::engine::{self, RunResult};
use crate::report::{self, RunJson, Series, YScale};
use crate::workload::{Load, Stop};
use crate::{describe, write_report_page, BenchArgs, DocHeader};

/// One entry of the registry.
pub struct Scenario {
    pub name: &'static str,
    pub about: &'static str,
    pub run: fn(&BenchArgs, &Load, &str) -> Result<i32, String>,
}

pub const REGISTRY: &[Scenario] = &[Scenario {
    name: "smoke-burst",
    about: "load ×1, ×2, ×5, ×10 (connections, and --rate if given) in steps; where latency bends",
    run: smoke_burst,
}];

pub fn run(name: &str, args: &BenchArgs, load: &Load, target: &str) -> Result<i32, String> {
    match REGISTRY.iter().find(|s| s.name == name) {
        Some(s) => (s.run)(args, load, target),
        None => {
            let names: Vec<&str> = REGISTRY.iter().map(|s| s.name).collect();
            Err(format!(
                "unknown scenario '{name}' (known: {})",
                names.join(", ")
            ))
        }
    }
}

pub const BURST_FACTORS: [usize; 4] = [1, 2, 5, 10];

/// One step's figures, as the verdict needs them.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct StepFigures {
    pub factor: usize,
    pub ops_per_sec: f64,
    pub p99_us: f64,
}

/// The verdict of a burst: the index of the first step where latency bends, and why.
pub fn find_bend(steps: &[StepFigures]) -> Option<(usize, String)> {
    let base = steps.first()?;
    for i in 1..steps.len() {
        let s = &steps[i];
        let load = s.factor as f64 / base.factor as f64;
        let gain = if base.ops_per_sec > 0.0 {
            s.ops_per_sec / base.ops_per_sec
        } else {
            0.0
        };
        let prev = &steps[i - 1];
        if gain < 0.8 * load {
            return Some((
                i,
                format!(
                    "at ×{}: throughput ×{gain:.2} for ×{load:.0} the load; p99 {:.3} → {:.3} ms",
                    s.factor,
                    base.p99_us / 1000.0,
                    s.p99_us / 1000.0
                ),
            ));
        }
        if prev.p99_us > 0.0 && s.p99_us > 2.0 * prev.p99_us {
            return Some((
                i,
                format!(
                    "at ×{}: p99 {:.3} → {:.3} ms (more than doubled over ×{})",
                    s.factor,
                    prev.p99_us / 1000.0,
                    s.p99_us / 1000.0,
                    prev.factor
                ),
            ));
        }
    }
    None
}

#[derive(Serialize)]
struct StepJson {
    factor: usize,
    connections_per_thread: usize,
    offered_rate: Option<f64>,
    run: RunJson,
}

#[derive(Serialize)]
struct ScenarioJson<'a> {
    #[serde(flatten)]
    header: DocHeader<'a>,
    scenario: &'static str,
    steps: Vec<StepJson>,
    bend: Option<String>,
}

fn smoke_burst(args: &BenchArgs, load: &Load, target: &str) -> Result<i32, String> {
    let pid = args.server_pids.first().copied();
    if args.prefill {
        crate::prefill(load, target)?;
    }
    // Without --duration/--requests each step runs 5 s.
    let base_stop = if args.duration.is_none() && args.requests.is_none() {
        Stop::Duration(std::time::Duration::from_secs(5))
    } else {
        load.stop
    };
    if load.progress {
        eprintln!(
            "tern bench: smoke-burst on {target}, steps ×1 ×2 ×5 ×10 of: {}",
            describe(load)
        );
    }
    let mut results: Vec<(usize, Load, RunResult, RunJson)> = Vec::new();
    for factor in BURST_FACTORS {
        let mut step = load.clone();
        step.connections = load.connections * factor;
        step.rate = load.rate.map(|r| r * factor as f64);
        step.stop = match base_stop {
            Stop::Requests(n) => Stop::Requests(n * factor as u64),
            d => d,
        };
        let label = format!("×{factor}");
        let r = engine::run(&step, target, pid, &format!("{label}: "))?;
        let j = RunJson::new(&label, &r, pid);
        if load.progress {
            eprintln!(
                "{label}: {} connections, {:.0} ops/s, p50 {:.3} ms, p99 {:.3} ms, errors {}",
                step.connections * step.threads,
                j.ops_per_sec,
                j.latency.p50_us / 1000.0,
                j.latency.p99_us / 1000.0,
                j.errors
            );
        }
        results.push((factor, step, r, j));
    }
    let figures: Vec<StepFigures> = results
        .iter()
        .map(|(f, _, _, j)| StepFigures {
            factor: *f,
            ops_per_sec: j.ops_per_sec,
            p99_us: j.latency.p99_us,
        })
        .collect();
    let bend = find_bend(&figures).map(|(_, why)| why);
    let mut text = format!(
        "{:<6} {:>11} {:>12} {:>11} {:>9} {:>9} {:>9} {:>9} {:>7}\n",
        "step",
        "connections",
        "offered/s",
        "ops/s",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms",
        "errors"
    );
    for (f, step, _, j) in &results {
        let p = &j.latency;
        text.push_str(&format!(
            "{:<6} {:>11} {:>12} {:>11.0} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>7}\n",
            format!("×{f}"),
            step.connections * step.threads,
            step.rate.map_or("-".to_string(), |r| format!("{r:.0}")),
            j.ops_per_sec,
            p.p50_us / 1000.0,
            p.p99_us / 1000.0,
            p.p999_us / 1000.0,
            p.max_us / 1000.0,
            j.errors
        ));
    }
    let verdict = match &bend {
        Some(why) => format!("latency bends {why}\n"),
        None => {
            "no bend up to ×10: throughput kept up with the load and p99 never doubled\n".into()
        }
    };
    text.push_str(&verdict);
    print!("{text}");

    if let Some(path) = &args.json {
        let doc = ScenarioJson {
            header: DocHeader::new("scenario", args, load),
            scenario: "smoke-burst",
            steps: results
                .iter()
                .map(|(f, step, _, j)| StepJson {
                    factor: *f,
                    connections_per_thread: step.connections,
                    offered_rate: step.rate,
                    run: j.clone(),
                })
                .collect(),
            bend: bend.clone(),
        };
        report::write_json(path, &doc)?;
    }
    if let Some(dir) = &args.report {
        // The steps one after the other on one time axis, so the timeline shows the staircase.
        let mut offset = 0.0;
        let shifted: Vec<Vec<crate::stats::TimePoint>> = results
            .iter()
            .map(|(_, _, r, _)| {
                let tl = r
                    .timeline
                    .iter()
                    .map(|p| crate::stats::TimePoint {
                        t: p.t + offset,
                        ..p.clone()
                    })
                    .collect();
                offset += r.elapsed_s;
                tl
            })
            .collect();
        let runs: Vec<(&str, &[crate::stats::TimePoint], &crate::stats::Hist)> = results
            .iter()
            .zip(&shifted)
            .map(|((_, _, r, j), tl)| (j.label.as_str(), tl.as_slice(), &r.all))
            .collect();
        let mut charts = report::standard_charts(dir, &runs)?;
        let curve = |name: &str, pick: fn(&RunJson) -> f64| {
            Series::new(
                name,
                results
                    .iter()
                    .map(|(_, _, _, j)| (j.ops_per_sec, pick(j).max(0.001)))
                    .collect(),
            )
        };
        report::line_chart(
            &dir.join("latency-vs-throughput.svg"),
            "Latency against throughput, steps ×1 ×2 ×5 ×10",
            "requests per second",
            "latency (µs)",
            &[
                curve("p50", |j| j.latency.p50_us),
                curve("p99", |j| j.latency.p99_us),
                curve("p99.9", |j| j.latency.p999_us),
            ],
            YScale::Log,
            report::XAxis {
                format: &|x: &f64| report::short_number(*x),
                from_zero: false,
                whole_ticks: false,
            },
        )?;
        charts.insert(0, "latency-vs-throughput.svg".into());
        let all: Vec<&RunJson> = results.iter().map(|(_, _, _, j)| j).collect();
        let sections = vec![
            format!("<p>{}</p>", report::html_escape(&describe(load))),
            format!("<pre>{}</pre>", report::html_escape(&text)),
            report::runs_table(&all),
        ];
        write_report_page(
            dir,
            &format!("tern bench: smoke-burst on {target}"),
            &sections,
            &charts,
        )?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(factor: usize, ops: f64, p99: f64) -> StepFigures {
        StepFigures {
            factor,
            ops_per_sec: ops,
            p99_us: p99,
        }
    }

    #[test]
    fn bend_is_where_throughput_stops_following_the_load() {
        let linear = [
            step(1, 1000.0, 100.0),
            step(2, 2000.0, 110.0),
            step(5, 4900.0, 150.0),
            step(10, 9500.0, 190.0),
        ];
        assert_eq!(find_bend(&linear), None);
        let saturating = [
            step(1, 1000.0, 100.0),
            step(2, 1900.0, 120.0),
            step(5, 2500.0, 180.0),
            step(10, 2600.0, 400.0),
        ];
        assert_eq!(find_bend(&saturating).unwrap().0, 2);
        let latency_jump = [
            step(1, 1000.0, 100.0),
            step(2, 2000.0, 300.0),
            step(5, 5000.0, 350.0),
            step(10, 10000.0, 400.0),
        ];
        let (i, why) = find_bend(&latency_jump).unwrap();
        assert_eq!(i, 1);
        assert!(why.contains("×2"), "{why}");
        assert!(REGISTRY.iter().any(|s| s.name == "smoke-burst"));
    }
}

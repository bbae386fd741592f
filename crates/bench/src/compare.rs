//! `--compare`: the same workload against two endpoints in alternating rounds (A B, B A, A B,
//! ...), so slow drifts of the machine hit both alike; each figure is the median over the
//! rounds, and the report gives A/B ratios.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::engine::{self, RunResult};
use crate::report::{self, RunJson, Series, YScale};
use crate::stats::{self, Hist};
use crate::workload::Load;
use crate::{describe, write_report_page, BenchArgs, DocHeader};

/// The figures compared, by name, from one run.
pub fn figures(r: &RunJson) -> Vec<(&'static str, Option<f64>)> {
    let p = &r.latency;
    vec![
        ("ops_per_sec", Some(r.ops_per_sec)),
        ("p50_us", Some(p.p50_us)),
        ("p90_us", Some(p.p90_us)),
        ("p99_us", Some(p.p99_us)),
        ("p999_us", Some(p.p999_us)),
        ("p9999_us", Some(p.p9999_us)),
        ("max_us", Some(p.max_us)),
        ("errors", Some(r.errors as f64)),
        (
            "client_cpu_ns_per_request",
            Some(r.client_cpu.ns_per_request),
        ),
        (
            "server_cpu_ns_per_request",
            r.server_cpu.as_ref().map(|c| c.ns_per_request),
        ),
    ]
}

pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}

/// Medians of each figure over the runs of one endpoint.
pub fn medians(runs: &[RunJson]) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    if runs.is_empty() {
        return out;
    }
    for (i, (name, _)) in figures(&runs[0]).into_iter().enumerate() {
        let mut v: Vec<f64> = runs.iter().filter_map(|r| figures(r)[i].1).collect();
        if let Some(m) = median(&mut v) {
            out.insert(name.to_string(), m);
        }
    }
    out
}

/// A/B for every figure both have (B = 0: no ratio).
pub fn ratios(a: &BTreeMap<String, f64>, b: &BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    a.iter()
        .filter_map(|(k, va)| {
            let vb = b.get(k)?;
            (*vb != 0.0).then(|| (k.clone(), va / vb))
        })
        .collect()
}

#[derive(Serialize)]
struct RoundJson {
    round: usize,
    endpoint: usize,
    run: RunJson,
}

#[derive(Serialize)]
struct EndpointJson {
    label: String,
    endpoint: String,
    server_pid: Option<u32>,
    median: BTreeMap<String, f64>,
}

#[derive(Serialize)]
struct CompareJson<'a> {
    #[serde(flatten)]
    header: DocHeader<'a>,
    endpoints: Vec<EndpointJson>,
    /// Endpoint A's median over endpoint B's, per figure.
    ratio: BTreeMap<String, f64>,
    rounds: Vec<RoundJson>,
}

pub fn run(args: &BenchArgs, load: &Load, a: &str, b: &str) -> Result<i32, String> {
    let endpoints = [a.to_string(), b.to_string()];
    let labels: Vec<String> = (0..2)
        .map(|i| {
            args.labels
                .get(i)
                .cloned()
                .unwrap_or_else(|| endpoints[i].clone())
        })
        .collect();
    if args.server_pids.len() > 2 {
        return Err("more --server-pid than endpoints".into());
    }
    let pids = [
        args.server_pids.first().copied(),
        args.server_pids.get(1).copied(),
    ];
    let rounds = args.rounds.max(1);
    if args.prefill {
        for e in &endpoints {
            crate::prefill(load, e)?;
        }
    }
    if load.progress {
        eprintln!(
            "tern bench: {} vs {}, {rounds} round(s): {}",
            labels[0],
            labels[1],
            describe(load)
        );
    }
    let mut results: [Vec<RunResult>; 2] = [Vec::new(), Vec::new()];
    let mut jsons: [Vec<RunJson>; 2] = [Vec::new(), Vec::new()];
    let mut round_docs = Vec::new();
    for round in 0..rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for e in order {
            let prefix = format!("{} round {}: ", labels[e], round + 1);
            let r = engine::run(load, &endpoints[e], pids[e], &prefix)?;
            let j = RunJson::new(&labels[e], &r, pids[e]);
            if load.progress {
                eprintln!(
                    "{prefix}{:.0} ops/s, p50 {:.3} ms, p99 {:.3} ms, errors {}",
                    j.ops_per_sec,
                    j.latency.p50_us / 1000.0,
                    j.latency.p99_us / 1000.0,
                    j.errors
                );
            }
            round_docs.push(RoundJson {
                round: round + 1,
                endpoint: e,
                run: j.clone(),
            });
            results[e].push(r);
            jsons[e].push(j);
        }
    }
    let med = [medians(&jsons[0]), medians(&jsons[1])];
    let ratio = ratios(&med[0], &med[1]);
    let table = table_text(&labels, &med, &ratio);
    print!("{table}");

    if let Some(path) = &args.json {
        let doc = CompareJson {
            header: DocHeader::new("compare", args, load),
            endpoints: (0..2)
                .map(|i| EndpointJson {
                    label: labels[i].clone(),
                    endpoint: endpoints[i].clone(),
                    server_pid: pids[i],
                    median: med[i].clone(),
                })
                .collect(),
            ratio: ratio.clone(),
            rounds: round_docs,
        };
        report::write_json(path, &doc)?;
    }
    if let Some(dir) = &args.report {
        // Latency distribution over all rounds; the timeline of each endpoint's median round.
        let merged: Vec<Hist> = results
            .iter()
            .map(|rs| {
                let mut h = stats::new_hist();
                for r in rs {
                    stats::merge(&mut h, &r.all);
                }
                h
            })
            .collect();
        let typical: Vec<&RunResult> = results
            .iter()
            .map(|rs| {
                let mut idx: Vec<usize> = (0..rs.len()).collect();
                idx.sort_by(|&x, &y| rs[x].ops_per_sec().total_cmp(&rs[y].ops_per_sec()));
                &rs[idx[idx.len() / 2]]
            })
            .collect();
        let mut charts = report::standard_charts(
            dir,
            &[
                (&labels[0], &typical[0].timeline, &merged[0]),
                (&labels[1], &typical[1].timeline, &merged[1]),
            ],
        )?;
        let per_round: Vec<Series> = (0..2)
            .map(|e| {
                Series::new(
                    labels[e].clone(),
                    jsons[e]
                        .iter()
                        .enumerate()
                        .map(|(i, j)| ((i + 1) as f64, j.ops_per_sec))
                        .collect(),
                )
            })
            .collect();
        report::line_chart(
            &dir.join("rounds.svg"),
            "Throughput per round",
            "round",
            "requests per second",
            &per_round,
            YScale::Linear,
            report::XAxis {
                format: &|x: &f64| format!("{x:.0}"),
                from_zero: false,
                whole_ticks: true,
            },
        )?;
        charts.push("rounds.svg".into());
        let all_runs: Vec<&RunJson> = jsons.iter().flatten().collect();
        let sections = vec![
            format!("<p>{}</p>", report::html_escape(&describe(load))),
            format!(
                "<h2>Medians over {rounds} round(s), ratio = {} / {}</h2><pre>{}</pre>",
                report::html_escape(&labels[0]),
                report::html_escape(&labels[1]),
                report::html_escape(&table)
            ),
            "<h2>Every round</h2>".to_string(),
            report::runs_table(&all_runs),
        ];
        write_report_page(
            dir,
            &format!("tern bench: {} vs {}", labels[0], labels[1]),
            &sections,
            &charts,
        )?;
    }
    Ok(0)
}

fn table_text(
    labels: &[String],
    med: &[BTreeMap<String, f64>; 2],
    ratio: &BTreeMap<String, f64>,
) -> String {
    let mut s = format!(
        "{:<28} {:>14} {:>14} {:>10}\n",
        "median of rounds",
        clip(&labels[0]),
        clip(&labels[1]),
        "ratio A/B"
    );
    let rows = [
        ("ops_per_sec", "requests/s", 1.0),
        ("p50_us", "p50 latency (ms)", 1000.0),
        ("p90_us", "p90 latency (ms)", 1000.0),
        ("p99_us", "p99 latency (ms)", 1000.0),
        ("p999_us", "p99.9 latency (ms)", 1000.0),
        ("p9999_us", "p99.99 latency (ms)", 1000.0),
        ("max_us", "max latency (ms)", 1000.0),
        ("errors", "errors", 1.0),
        ("client_cpu_ns_per_request", "client CPU ns/request", 1.0),
        ("server_cpu_ns_per_request", "server CPU ns/request", 1.0),
    ];
    for (key, title, div) in rows {
        let (Some(a), Some(b)) = (med[0].get(key), med[1].get(key)) else {
            continue;
        };
        let fmt = |v: f64| {
            if div > 1.0 {
                format!("{:.3}", v / div)
            } else {
                format!("{v:.0}")
            }
        };
        let r = ratio
            .get(key)
            .map_or("-".to_string(), |r| format!("{r:.3}"));
        s.push_str(&format!(
            "{title:<28} {:>14} {:>14} {r:>10}\n",
            fmt(*a),
            fmt(*b)
        ));
    }
    s
}

fn clip(s: &str) -> String {
    if s.chars().count() > 14 {
        s.chars().take(13).collect::<String>() + "…"
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_ratios() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&mut []), None);
        let a: BTreeMap<String, f64> = [("x".to_string(), 10.0), ("y".to_string(), 1.0)].into();
        let b: BTreeMap<String, f64> = [("x".to_string(), 5.0), ("y".to_string(), 0.0)].into();
        let r = ratios(&a, &b);
        assert_eq!(r.get("x"), Some(&2.0));
        assert_eq!(r.get("y"), None);
    }
}

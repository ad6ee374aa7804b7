//! A hand-written SVG of benchmark results: send rate (log scale) and utilisation vs. modem count (log₂
//! scale), one line per system/variant/profile. No plotting crate: the chart is two axes and polylines.
use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::RunResult;

/// Width of one panel in SVG user units.
const PANEL_W: f64 = 420.0;
/// Height of one panel.
const PANEL_H: f64 = 280.0;
/// Margin around the plot area (room for tick labels).
const MARGIN: f64 = 50.0;
/// Line colours, cycled per series.
const COLOURS: [&str; 8] = [
    "#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

/// One line of the chart.
struct Series {
    label: String,
    points: Vec<(f64, f64, Option<f64>)>,
}

fn series(results: &[RunResult]) -> Vec<Series> {
    let mut by: BTreeMap<String, Vec<(f64, f64, Option<f64>)>> = BTreeMap::new();
    // Failed runs and runs that sent nothing have no rate to draw.
    for r in results
        .iter()
        .filter(|r| r.faults == "none" && r.modems > 0 && r.error.is_none())
    {
        let Some(rate) = r.send_rate else { continue };
        let label = format!("{} {} ({})", r.system, r.variant, r.profile);
        by.entry(label)
            .or_default()
            .push((r.modems as f64, rate, r.utilisation_pct));
    }
    by.into_iter()
        .map(|(label, mut points)| {
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            Series { label, points }
        })
        .collect()
}

/// The SVG document for `results` (runs without faults).
pub fn svg(results: &[RunResult]) -> String {
    let lines = series(results);
    let max_modems = lines
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold(4.0_f64, f64::max);
    let x_max = max_modems.log2().ceil().max(1.0);
    let rate_max = lines
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(1.0_f64, f64::max);
    let y_decades = rate_max.log10().ceil().max(1.0);
    let legend_h = 16.0 * lines.len() as f64 + 20.0;
    let width = 2.0 * (PANEL_W + 2.0 * MARGIN);
    let height = PANEL_H + 2.0 * MARGIN + legend_h;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    let x_of = |ox: f64, m: f64| ox + MARGIN + PANEL_W * (m.log2() / x_max);
    // Panel 1: send rate, log10 from 0.1 to 10^y_decades.
    let y_floor = -1.0;
    let rate_y = |v: f64| {
        let l = v.max(0.1).log10();
        MARGIN + PANEL_H * (1.0 - (l - y_floor) / (y_decades - y_floor))
    };
    let util_y = |v: f64| MARGIN + PANEL_H * (1.0 - v.clamp(0.0, 110.0) / 110.0);
    for (panel, title) in [
        (0.0, "SMS parts sent per second (log)"),
        (1.0, "utilisation of the bank, %"),
    ] {
        let ox = panel * (PANEL_W + 2.0 * MARGIN);
        let _ = writeln!(
            s,
            "<rect x=\"{}\" y=\"{MARGIN}\" width=\"{PANEL_W}\" height=\"{PANEL_H}\" fill=\"none\" stroke=\"#444\"/>\n\
             <text x=\"{}\" y=\"{}\" font-size=\"13\">{title}</text>",
            ox + MARGIN,
            ox + MARGIN,
            MARGIN - 10.0
        );
        for k in 0..=(x_max as u32) {
            let x = x_of(ox, f64::from(1u32 << k));
            let _ = writeln!(
                s,
                "<line x1=\"{x}\" y1=\"{MARGIN}\" x2=\"{x}\" y2=\"{}\" stroke=\"#ddd\"/>\
                 <text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                MARGIN + PANEL_H,
                MARGIN + PANEL_H + 14.0,
                1u32 << k
            );
        }
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">modems</text>",
            ox + MARGIN + PANEL_W / 2.0,
            MARGIN + PANEL_H + 30.0
        );
        if panel == 0.0 {
            for d in (y_floor as i32)..=(y_decades as i32) {
                let v = 10f64.powi(d);
                let y = rate_y(v);
                let _ = writeln!(
                    s,
                    "<line x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#ddd\"/>\
                     <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{v}</text>",
                    ox + MARGIN,
                    ox + MARGIN + PANEL_W,
                    ox + MARGIN - 4.0,
                    y + 4.0
                );
            }
        } else {
            for v in [0.0, 25.0, 50.0, 75.0, 97.0, 100.0] {
                let y = util_y(v);
                let colour = if v == 97.0 { "#f99" } else { "#ddd" };
                let _ = writeln!(
                    s,
                    "<line x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"{colour}\"/>\
                     <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{v}</text>",
                    ox + MARGIN,
                    ox + MARGIN + PANEL_W,
                    ox + MARGIN - 4.0,
                    y + 4.0
                );
            }
        }
        for (i, line) in lines.iter().enumerate() {
            let colour = COLOURS[i % COLOURS.len()];
            let pts: Vec<(f64, f64)> = line
                .points
                .iter()
                .filter_map(|&(m, rate, util)| {
                    let y = if panel == 0.0 {
                        Some(rate_y(rate))
                    } else {
                        util.map(util_y)
                    };
                    y.map(|y| (x_of(ox, m), y))
                })
                .collect();
            if pts.is_empty() {
                continue;
            }
            let path: Vec<String> = pts.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
            let _ = writeln!(
                s,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"/>",
                path.join(" ")
            );
            for (x, y) in pts {
                let _ = writeln!(
                    s,
                    "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3\" fill=\"{colour}\"/>"
                );
            }
        }
    }
    for (i, line) in lines.iter().enumerate() {
        let y = PANEL_H + 2.0 * MARGIN + 16.0 * i as f64 + 6.0;
        let colour = COLOURS[i % COLOURS.len()];
        let _ = writeln!(
            s,
            "<rect x=\"{MARGIN}\" y=\"{}\" width=\"14\" height=\"4\" fill=\"{colour}\"/>\
             <text x=\"{}\" y=\"{y}\">{}</text>",
            y - 6.0,
            MARGIN + 20.0,
            xml_escape(&line.label)
        );
    }
    s.push_str("</svg>\n");
    s
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

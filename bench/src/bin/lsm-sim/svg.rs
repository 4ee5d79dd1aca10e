//! The simulator's picture: the bytes of each level over time (a log
//! scale: the levels differ by the factor), the three amplifications over
//! time, and the final shape, each level's bytes against its target.

use std::fmt::Write as _;

use lsm_workbook::ch08_compaction::{LeveledOptions, level_target_bytes};

use crate::{Sample, human};

const WIDTH: f64 = 720.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 130.0;
const PLOT_HEIGHT: f64 = 200.0;
const LEVEL_COLORS: [&str; 7] = [
    "#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf",
];

/// A line of the amplification chart: its name, color and value.
type Series = (&'static str, &'static str, fn(&Sample) -> f64);

/// The whole picture as SVG text.
pub fn draw(
    samples: &[Sample],
    settled: &Sample,
    leveled: LeveledOptions,
    compaction: bool,
) -> String {
    let levels = samples
        .iter()
        .chain([settled])
        .map(|s| {
            s.levels
                .iter()
                .rposition(|&(n, _)| n > 0)
                .map_or(1, |l| l + 1)
        })
        .max()
        .unwrap_or(1);
    let shape_height = 30.0 + 22.0 * levels as f64;
    let height = 40.0 + 2.0 * (PLOT_HEIGHT + 60.0) + shape_height + 20.0;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let writes_max = samples.last().map_or(1, |s| s.writes).max(1) as f64;
    let x = |writes: u64| LEFT + (WIDTH - LEFT - RIGHT) * writes as f64 / writes_max;

    // Panel 1: bytes per level, log scale.
    let top = 40.0;
    title(
        &mut svg,
        top - 14.0,
        "bytes in each level as the writes go on (log scale)",
    );
    let bytes_max = samples
        .iter()
        .flat_map(|s| s.levels.iter().map(|&(_, b)| b))
        .max()
        .unwrap_or(1)
        .max(2048);
    let (lo, hi) = (1024f64.log10(), (bytes_max as f64 * 1.5).log10());
    let y_bytes = |bytes: u64| {
        let v = (bytes.max(1024) as f64).log10();
        top + PLOT_HEIGHT * (1.0 - (v - lo) / (hi - lo))
    };
    frame(&mut svg, top);
    let mut tick = 1024u64;
    while (tick as f64).log10() <= hi {
        axis_label(&mut svg, y_bytes(tick), &human(tick));
        // Powers of 16 from 1 KiB: 1K, 16K, 256K, 4M, 64M — round in
        // binary units, as `human` prints them.
        tick *= 16;
    }
    for level in 0..levels {
        let color = LEVEL_COLORS[level % LEVEL_COLORS.len()];
        let points: Vec<(f64, f64)> = samples
            .iter()
            .map(|s| {
                (
                    x(s.writes),
                    y_bytes(s.levels.get(level).map_or(0, |&(_, b)| b)),
                )
            })
            .collect();
        polyline(&mut svg, &points, color);
        if compaction && level > 0 {
            let target = y_bytes(level_target_bytes(level, &leveled));
            if target >= top {
                let _ = writeln!(
                    svg,
                    r#"<line x1="{LEFT}" y1="{target:.1}" x2="{:.1}" y2="{target:.1}" stroke="{color}" stroke-dasharray="4 4" stroke-width="1"/>"#,
                    WIDTH - RIGHT
                );
            }
        }
        legend(
            &mut svg,
            top + 14.0 * level as f64,
            color,
            &format!("L{level}"),
            false,
        );
    }
    if compaction {
        legend(&mut svg, top + 14.0 * levels as f64, "#555", "target", true);
    }
    x_axis(&mut svg, top, writes_max);

    // Panel 2: the amplifications.
    let top = top + PLOT_HEIGHT + 60.0;
    title(&mut svg, top - 14.0, "write, space and read amplification");
    let amp_max = samples
        .iter()
        .flat_map(|s| [s.write_amp, s.space_amp, s.read_amp])
        .fold(1.0f64, f64::max)
        * 1.1;
    let y_amp = |v: f64| top + PLOT_HEIGHT * (1.0 - v / amp_max);
    frame(&mut svg, top);
    let step = nice_step(amp_max);
    let mut tick = 0.0;
    while tick <= amp_max {
        axis_label(&mut svg, y_amp(tick), &format!("{tick}"));
        tick += step;
    }
    let series: [Series; 3] = [
        ("w-amp", "#d62728", |s| s.write_amp),
        ("s-amp", "#1f77b4", |s| s.space_amp),
        ("r-amp", "#2ca02c", |s| s.read_amp),
    ];
    for (row, (name, color, value)) in series.iter().enumerate() {
        let points: Vec<(f64, f64)> = samples
            .iter()
            .map(|s| (x(s.writes), y_amp(value(s))))
            .collect();
        polyline(&mut svg, &points, color);
        legend(&mut svg, top + 14.0 * row as f64, color, name, false);
    }
    x_axis(&mut svg, top, writes_max);

    // Panel 3: the final shape.
    let top = top + PLOT_HEIGHT + 60.0;
    title(
        &mut svg,
        top - 4.0,
        "the shape after a flush: each level's bytes against its target",
    );
    let bar_width = WIDTH - LEFT - RIGHT;
    for level in 0..levels {
        let y = top + 10.0 + 22.0 * level as f64;
        let (tables, bytes) = settled.levels.get(level).copied().unwrap_or((0, 0));
        let color = LEVEL_COLORS[level % LEVEL_COLORS.len()];
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">L{level}</text>"#,
            LEFT - 8.0,
            y + 13.0
        );
        let (fraction, label) = if level == 0 || !compaction {
            let trigger = leveled.level0_trigger.max(1) as f64;
            let label = format!("{tables} tables, {}", human(bytes));
            if compaction {
                (
                    tables as f64 / trigger,
                    format!("{label} (trigger {})", leveled.level0_trigger),
                )
            } else {
                (0.0, label)
            }
        } else {
            let target = level_target_bytes(level, &leveled);
            let fraction = bytes as f64 / target as f64;
            (
                fraction,
                format!(
                    "{tables} tables, {} of {} ({:.0}%)",
                    human(bytes),
                    human(target),
                    fraction * 100.0
                ),
            )
        };
        // The target is at the middle of the bar's run; a level over it
        // runs past the mark.
        let length = (fraction * bar_width / 2.0).min(bar_width);
        let _ = writeln!(
            svg,
            r#"<rect x="{LEFT}" y="{y:.1}" width="{length:.1}" height="16" fill="{color}" fill-opacity="0.6"/>"#
        );
        if compaction {
            let mark = LEFT + bar_width / 2.0;
            let _ = writeln!(
                svg,
                r##"<line x1="{mark:.1}" y1="{:.1}" x2="{mark:.1}" y2="{:.1}" stroke="#333" stroke-dasharray="3 2"/>"##,
                y - 2.0,
                y + 18.0
            );
        }
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}">{label}</text>"#,
            // Right of the bar, and right of the target mark when the bar
            // ends before it, so the text never crosses the mark.
            LEFT + if compaction {
                length.max(bar_width / 2.0)
            } else {
                length
            } + 6.0,
            y + 13.0
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn title(svg: &mut String, y: f64, text: &str) {
    let _ = writeln!(
        svg,
        r#"<text x="{LEFT}" y="{y:.1}" font-weight="bold">{text}</text>"#
    );
}

fn frame(svg: &mut String, top: f64) {
    let _ = writeln!(
        svg,
        r##"<rect x="{LEFT}" y="{top:.1}" width="{:.1}" height="{PLOT_HEIGHT}" fill="none" stroke="#999"/>"##,
        WIDTH - LEFT - RIGHT
    );
}

fn axis_label(svg: &mut String, y: f64, text: &str) {
    let _ = writeln!(
        svg,
        r##"<line x1="{:.1}" y1="{y:.1}" x2="{LEFT}" y2="{y:.1}" stroke="#999"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#555">{text}</text>"##,
        LEFT - 4.0,
        LEFT - 6.0,
        y + 4.0
    );
}

fn x_axis(svg: &mut String, top: f64, writes_max: f64) {
    let bottom = top + PLOT_HEIGHT;
    for i in 0..=4 {
        let writes = writes_max * i as f64 / 4.0;
        let x = LEFT + (WIDTH - LEFT - RIGHT) * i as f64 / 4.0;
        let _ = writeln!(
            svg,
            r##"<text x="{x:.1}" y="{:.1}" text-anchor="middle" fill="#555">{}</text>"##,
            bottom + 16.0,
            writes.round()
        );
    }
    let _ = writeln!(
        svg,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#555">writes</text>"##,
        LEFT + (WIDTH - LEFT - RIGHT) / 2.0,
        bottom + 32.0
    );
}

fn polyline(svg: &mut String, points: &[(f64, f64)], color: &str) {
    let mut list = String::new();
    for (x, y) in points {
        let _ = write!(list, "{x:.1},{y:.1} ");
    }
    let _ = writeln!(
        svg,
        r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"/>"#,
        list.trim_end()
    );
}

fn legend(svg: &mut String, y: f64, color: &str, text: &str, dashed: bool) {
    let x = WIDTH - RIGHT + 12.0;
    let dash = if dashed {
        r#" stroke-dasharray="4 4""#
    } else {
        ""
    };
    let _ = writeln!(
        svg,
        r#"<line x1="{x:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{color}" stroke-width="2"{dash}/><text x="{:.1}" y="{:.1}">{text}</text>"#,
        y + 6.0,
        x + 20.0,
        y + 6.0,
        x + 26.0,
        y + 10.0
    );
}

/// A round step for about five ticks up to `max`.
fn nice_step(max: f64) -> f64 {
    let raw = max / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|&step| step >= raw)
        .unwrap_or(magnitude * 10.0)
}

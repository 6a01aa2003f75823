//! The evaluation plot: Fréchet distance per grid cell as grouped bars (one colour per
//! model) with ±1 std error bars over seeds, written as a PNG. plotters draws into an RGB
//! buffer that `image` encodes. Text needs a TrueType font: the first of `ADT_PLOT_FONT`
//! and the usual DejaVu/Liberation paths that exists; without one the plot has no text
//! and the caller's markdown table carries the labels.

use std::path::Path;
use std::sync::OnceLock;

use anyhow::{Context, Result, anyhow};
use plotters::prelude::*;

/// One bar series: a model's FD mean and std per cell.
pub struct Series {
    pub name: String,
    pub values: Vec<(f64, f64)>,
}

const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/Library/Fonts/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

/// Register a font with plotters once; `false` when none was found.
fn font() -> bool {
    static FOUND: OnceLock<bool> = OnceLock::new();
    *FOUND.get_or_init(|| {
        let candidates = std::env::var("ADT_PLOT_FONT")
            .ok()
            .into_iter()
            .chain(FONT_PATHS.iter().map(|s| s.to_string()));
        for path in candidates {
            if let Ok(bytes) = std::fs::read(&path) {
                // plotters keeps fonts for the process lifetime.
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return true;
                }
            }
        }
        false
    })
}

/// Model colours: base grey, then blue, orange, green, ...
const COLORS: [RGBColor; 5] = [
    RGBColor(140, 140, 140),
    RGBColor(66, 114, 196),
    RGBColor(237, 125, 49),
    RGBColor(84, 168, 84),
    RGBColor(160, 90, 190),
];

/// Draw `series` over `cells` (x labels) into `path` (PNG).
pub fn fd_bars(path: &Path, title: &str, cells: &[String], series: &[Series]) -> Result<()> {
    if cells.is_empty() || series.is_empty() {
        return Err(anyhow!("nothing to plot"));
    }
    let with_text = font();
    let (w, h) = ((160 + 90 * cells.len() as u32).max(640), 420u32);
    let mut buf = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("plot: {e}"))?;
        let top = series
            .iter()
            .flat_map(|s| s.values.iter().map(|(m, sd)| m + sd))
            .fold(0.0f64, f64::max)
            * 1.12;
        let mut builder = ChartBuilder::on(&root);
        builder.margin(12);
        if with_text {
            builder
                .caption(title, ("sans-serif", 18))
                .x_label_area_size(56)
                .y_label_area_size(56);
        }
        let n = cells.len();
        let mut chart = builder
            .build_cartesian_2d(0f64..n as f64, 0f64..top.max(1e-9))
            .map_err(|e| anyhow!("plot: {e}"))?;
        // Labels sit at the centre of each cell's group.
        let formatter = |x: &f64| {
            let i = x.floor() as usize;
            if (x - i as f64 - 0.5).abs() < 1e-6 && i < cells.len() {
                cells[i].clone()
            } else {
                String::new()
            }
        };
        let mut mesh = chart.configure_mesh();
        mesh.disable_x_mesh();
        if with_text {
            mesh.x_labels(n * 2 + 1)
                .x_label_formatter(&formatter)
                .y_desc("Fréchet distance (lower is closer to the data)")
                .label_style(("sans-serif", 12));
        } else {
            mesh.disable_x_axis().disable_y_axis();
        }
        mesh.draw().map_err(|e| anyhow!("plot: {e}"))?;
        let group = 0.8 / series.len() as f64;
        for (si, s) in series.iter().enumerate() {
            let color = COLORS[si % COLORS.len()];
            let bars = s.values.iter().enumerate().map(|(ci, &(mean, _))| {
                let x0 = ci as f64 + 0.1 + si as f64 * group;
                Rectangle::new([(x0, 0.0), (x0 + group * 0.9, mean)], color.filled())
            });
            let drawn = chart.draw_series(bars).map_err(|e| anyhow!("plot: {e}"))?;
            if with_text {
                drawn.label(s.name.clone()).legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                });
            }
            let whiskers = s.values.iter().enumerate().map(|(ci, &(mean, sd))| {
                let xc = ci as f64 + 0.1 + si as f64 * group + group * 0.45;
                PathElement::new(
                    vec![(xc, mean - sd), (xc, mean + sd)],
                    BLACK.stroke_width(2),
                )
            });
            chart
                .draw_series(whiskers)
                .map_err(|e| anyhow!("plot: {e}"))?;
        }
        if with_text {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font(("sans-serif", 13))
                .position(SeriesLabelPosition::UpperRight)
                .draw()
                .map_err(|e| anyhow!("plot: {e}"))?;
        }
        root.present().map_err(|e| anyhow!("plot: {e}"))?;
    }
    let img = image::RgbImage::from_raw(w, h, buf).context("plot buffer size")?;
    img.save(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

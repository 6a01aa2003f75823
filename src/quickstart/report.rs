//! The quickstart's report: `report.md` (FD and attribute accuracy of base, plain
//! fine-tune and ADT per evaluation cell, change against the base), `report.csv` (every
//! seed's FD and attribute accuracies) and `samples.png` (real / base / plain / ADT rows for the same prompts).

use std::fmt::Write as _;
use std::path::Path;

use adt_data::Split;
use adt_family::image_io::{grid as image_grid, save_png, to_rgb8};
use adt_family::{Family, Model, Request, SeededNoise};
use adt_schedulers::Scheduler;
use anyhow::Result;
use burn::prelude::*;

use super::Args;
use crate::eval::{
    Cell, Grid, GridResult, accuracy_line, cell_labels, csv, csv_header, floors_markdown, plot,
};

/// Prompts (first held-out captions) in `samples.png`.
const SAMPLE_PROMPTS: usize = 8;
/// Nearest-neighbour upscaling of the 32-pixel images in `samples.png`.
const UPSCALE: u32 = 4;

fn cell_key(c: &Cell) -> (String, usize, String) {
    (c.sampler.to_string(), c.steps, c.cfg.to_string())
}

/// Write report.md and report.csv; returns the headline table (also printed).
pub fn write(
    out: &Path,
    args: &Args,
    results: &[(String, GridResult)],
    timings: &[super::Timing],
    total_s: f64,
) -> Result<String> {
    let base = &results[0].1;
    let mut table = String::from(
        "| sampler | steps | CFG | model | FD (mean ± std) | vs base | color | background | kind | size | position |\n|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for (i, base_cell) in base.cells.iter().enumerate() {
        for (name, r) in results {
            let c = &r.cells[i];
            debug_assert_eq!(cell_key(c), cell_key(base_cell));
            let accuracy = c.scores.accuracy();
            let acc = |h: &str| {
                accuracy
                    .iter()
                    .find(|(n, _)| n == h)
                    .map_or("–".to_string(), |(_, a)| format!("{:.1}%", 100.0 * a))
            };
            let change = 100.0 * (c.scores.mean() / base_cell.scores.mean() - 1.0);
            let _ = writeln!(
                table,
                "| {} | {} | {} | {name} | {:.3} ± {:.3} | {} | {} | {} | {} | {} | {} |",
                c.sampler,
                c.steps,
                c.cfg,
                c.scores.mean(),
                c.scores.std(),
                if name == "base" {
                    "–".to_string()
                } else {
                    format!("{change:+.1}%")
                },
                acc("color"),
                acc("background"),
                acc("kind"),
                acc("size"),
                acc("position"),
            );
        }
    }
    let mut md =
        String::from("# Quickstart: base vs plain fine-tune vs ADT on the shapes pipeline\n\n");
    let _ = writeln!(
        md,
        "Both runs tune the shipped UNet (`assets/shapes`) for {} steps on the same {} training \
         images with the same config and seed (`examples/configs/shapes-quickstart.toml`); the \
         plain fine-tune sets `adt.adversarial = false` (L_diff only). Evaluated with the EMA \
         weights: Fréchet distance to {} held-out images in the evaluation network's feature \
         space (`assets/shapes/dinov2_eval`, trained separately from the discriminator), mean ± \
         std over seeds {:?}; attribute accuracy = share of generated images whose attribute \
         the evaluation network reads as the caption asks.\n",
        args.steps, args.train_images, args.eval_images, args.seeds
    );
    md.push_str(&table);
    if !base.reference_accuracy.is_empty() {
        let _ = writeln!(
            md,
            "\nThe same heads on the real held-out images (their ceiling): {}.",
            accuracy_line(&base.reference_accuracy)
        );
    }
    // The three models share the base's VAE, so one set of floors holds for all.
    let _ = write!(md, "\n{}", floors_markdown(&base.floors, args.eval_images));
    md.push_str(
        "\n`samples.png`: rows are real held-out images, base, plain fine-tune and ADT for the \
         same captions and noise (the first evaluation sampler and step count, CFG of the first \
         cell). `report.png`: the FD table as bars (±1 std).\n\nTimings (seconds): ",
    );
    let t: Vec<String> = timings
        .iter()
        .map(|(n, s, cores)| match cores {
            Some(c) => format!("{n} {s:.0} ({c:.2} cores)"),
            None => format!("{n} {s:.0}"),
        })
        .collect();
    let _ = writeln!(md, "{}; total {total_s:.0}.", t.join(", "));
    std::fs::write(out.join("report.md"), &md)?;
    let mut rows = csv_header();
    for (name, r) in results {
        rows.push_str(&csv(name, &r.cells));
    }
    std::fs::write(out.join("report.csv"), rows)?;
    plot::fd_bars(
        &out.join("report.png"),
        "Quickstart: FD to held-out images (mean ± std over seeds)",
        &cell_labels(&base.cells),
        &results
            .iter()
            .map(|(name, r)| plot::Series {
                name: name.clone(),
                values: r
                    .cells
                    .iter()
                    .map(|c| (c.scores.mean(), c.scores.std()))
                    .collect(),
            })
            .collect::<Vec<_>>(),
    )?;
    Ok(table)
}

/// `samples.png`: real, then each model, for the first held-out captions, with the first
/// cell's sampler, steps and CFG and the same noise per column.
pub fn samples_png<F: Family>(
    models: &[(String, Model<F>)],
    grid: &Grid,
    path: &Path,
    device: &Device,
) -> Result<()> {
    let n = SAMPLE_PROMPTS;
    let data = grid.domain.dataset(Split::Heldout, n);
    let prompts: Vec<String> = (0..n)
        .map(|k| grid.domain.caption(data.sample_index(k)))
        .collect();
    let mut tiles: Vec<image::RgbImage> = (0..n)
        .map(|k| grid.domain.render(data.sample_index(k)))
        .collect();
    let size = grid.domain.image_size as usize;
    for (_, sd) in models {
        let scheduler = Scheduler::new(&sd.scheduler.config(grid.samplers[0])?, grid.steps[0])?;
        let request = Request::txt2img(prompts.clone(), grid.cfgs[0], size, size);
        let mut noise = SeededNoise::new(grid.seeds[0] * grid.n as u64, n);
        let images = sd
            .pipeline()
            .generate(&scheduler, &request, &mut noise, device)?;
        tiles.extend(to_rgb8(images.images));
    }
    let sheet = image_grid(&tiles, n);
    let (w, h) = sheet.dimensions();
    let big = image::imageops::resize(
        &sheet,
        w * UPSCALE,
        h * UPSCALE,
        image::imageops::FilterType::Nearest,
    );
    save_png(&big, path)?;
    Ok(())
}

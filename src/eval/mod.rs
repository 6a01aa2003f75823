//! `adt eval`: Fréchet distance between generated and real images in a feature network's
//! space — any DINOv2-architecture checkpoint (the shapes domain's evaluation network, or a
//! real DINOv2 for FD-DINOv2), or pytorch-fid's InceptionV3 for FID (user-supplied weights,
//! `adt_inception`) — across a grid of samplers × step counts × CFG scales, over several
//! seeds (mean and spread), written as a markdown table and a CSV.
//!
//! The prompts and the reference images are the procedural shapes domain's held-out split
//! (`adt_data::ShapesDomain`), so the evaluation needs no files.

mod attributes;
mod floors;
pub mod plot;

use std::fmt::Write as _;
use std::path::Path;

pub use attributes::AttributeHeads;
pub use floors::Floors;

use adt_data::{ShapeAttributes, ShapesDataset, ShapesDomain, Split};
use adt_dinov2::{BackboneConfig, Dinov2Backbone, Dinov2Model};
use adt_family::image_io::from_rgb8;
use adt_family::{Family, Model, Request, SeededNoise};
use adt_inception::InceptionV3Fid;
use adt_models_common::ModelSource;
use adt_plugin::eval::{FeatureAccumulator, FeatureStats, frechet_distance};
use adt_schedulers::{SamplerName, Scheduler};
use anyhow::{Context, Result, bail};
use burn::prelude::*;

/// What [`FeatureNet::metric`] calls FID.
pub const FID_METRIC: &str = "FID (InceptionV3, pytorch-fid)";

/// The feature network: the final normed CLS token of a DINOv2-architecture model, or
/// pytorch-fid's InceptionV3 pool3 features (FID).
pub struct FeatureNet {
    net: Net,
    metric: String,
}

/// Boxed: the module trees are large (InceptionV3's is ~50 KB of handles).
enum Net {
    Dinov2(Box<Dinov2Backbone>),
    Inception(Box<InceptionV3Fid>),
}

impl FeatureNet {
    /// Load `source` (transformers layout); images are resized to `input_size` inside.
    pub fn load(source: &ModelSource, input_size: [usize; 2], device: &Device) -> Result<Self> {
        let model = Dinov2Model::from_pretrained(source, device)
            .with_context(|| format!("loading the feature network {}", source.describe()))?;
        let backbone = Dinov2Backbone::new(
            model,
            BackboneConfig {
                input_size,
                ..Default::default()
            },
        )?;
        Ok(Self {
            net: Net::Dinov2(Box::new(backbone)),
            metric: format!(
                "FD in a DINOv2-architecture network's space ({})",
                source.describe()
            ),
        })
    }

    /// pytorch-fid's InceptionV3 from its weights file
    /// (`pt_inception-2015-12-05-6726825d.pth`, or the same state dict as
    /// `.safetensors`): the Fréchet distance is then FID. Images are resized to 299 × 299
    /// inside.
    pub fn inception(weights: &Path, device: &Device) -> Result<Self> {
        let model = InceptionV3Fid::load(weights, device)
            .with_context(|| format!("loading InceptionV3 (FID) from {}", weights.display()))?;
        Ok(Self::from_inception(model))
    }

    /// An InceptionV3 already built (e.g. with other weights, for tests).
    pub fn from_inception(model: InceptionV3Fid) -> Self {
        Self {
            net: Net::Inception(Box::new(model)),
            metric: FID_METRIC.to_string(),
        }
    }

    /// Which distance this network gives, for reports: [`FID_METRIC`] or
    /// `FD in a DINOv2-architecture network's space (<source>)`.
    pub fn metric(&self) -> &str {
        &self.metric
    }

    /// Whether attribute heads (trained on the DINOv2 evaluation network's features) apply.
    pub fn is_dinov2(&self) -> bool {
        matches!(self.net, Net::Dinov2(_))
    }

    /// Feature width `D`.
    pub fn dim(&self) -> usize {
        match &self.net {
            Net::Dinov2(b) => b.hidden_size(),
            Net::Inception(_) => adt_inception::FID_FEATURE_DIM,
        }
    }

    /// `[B, 3, H, W]` in `[-1, 1]` → `[B, D]` features as rows.
    pub fn features(&self, images: Tensor<4>) -> Result<Vec<Vec<f32>>> {
        let feats = match &self.net {
            Net::Dinov2(b) => b.features(images, &[])?.cls,
            Net::Inception(m) => m.features(images)?,
        };
        let [b, d] = feats.dims();
        let v = feats
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .expect("f32");
        Ok((0..b).map(|i| v[i * d..(i + 1) * d].to_vec()).collect())
    }
}

/// FD to the reference and attribute accuracy of one set of images per evaluation seed.
#[derive(Debug, Clone)]
pub struct Scores {
    /// The evaluation seeds, in the order of `fd` and `seed_accuracy`.
    pub seeds: Vec<u64>,
    /// FD per seed.
    pub fd: Vec<f64>,
    /// Attribute accuracy per head of each seed's images (empty rows without heads).
    pub seed_accuracy: Vec<Vec<(String, f64)>>,
}

impl Scores {
    /// Attribute accuracy per head over all seeds' images (every seed scores as many
    /// images, so the mean of the seeds' accuracies); empty without heads.
    pub fn accuracy(&self) -> Vec<(String, f64)> {
        let Some(first) = self.seed_accuracy.first() else {
            return Vec::new();
        };
        let n = self.seed_accuracy.len() as f64;
        first
            .iter()
            .enumerate()
            .map(|(i, (name, _))| {
                let sum: f64 = self.seed_accuracy.iter().map(|row| row[i].1).sum();
                (name.clone(), sum / n)
            })
            .collect()
    }

    pub fn mean(&self) -> f64 {
        self.fd.iter().sum::<f64>() / self.fd.len() as f64
    }

    /// Sample standard deviation over seeds (0 for one seed).
    pub fn std(&self) -> f64 {
        let n = self.fd.len();
        if n < 2 {
            return 0.0;
        }
        let m = self.mean();
        (self.fd.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
    }

    /// `FD 12.3456 ± 0.1234`, then the accuracies when scored.
    pub fn line(&self) -> String {
        let accuracy = self.accuracy();
        let mut s = format!("FD {:.4} ± {:.4}", self.mean(), self.std());
        if !accuracy.is_empty() {
            let _ = write!(s, "; {}", accuracy_line(&accuracy));
        }
        s
    }
}

/// One cell of the grid.
#[derive(Debug, Clone)]
pub struct Cell {
    pub sampler: SamplerName,
    pub steps: usize,
    pub cfg: f64,
    pub scores: Scores,
}

/// What to evaluate.
#[derive(Debug, Clone)]
pub struct Grid {
    pub samplers: Vec<SamplerName>,
    pub steps: Vec<usize>,
    pub cfgs: Vec<f64>,
    pub seeds: Vec<u64>,
    /// Images per seed and cell (= reference images).
    pub n: usize,
    pub batch: usize,
    pub domain: ShapesDomain,
}

/// Features and attribute hits of a set of images, accumulated batch by batch.
struct Tally<'a> {
    features: FeatureAccumulator,
    heads: Option<&'a AttributeHeads>,
    correct: Vec<f64>,
    scored: usize,
}

/// Attribute heads read the DINOv2 evaluation network's features; refuse other networks.
fn check_heads(net: &FeatureNet, heads: Option<&AttributeHeads>) -> Result<()> {
    if heads.is_some() && !net.is_dinov2() {
        bail!(
            "attribute heads apply to the DINOv2 evaluation network only, not to {}",
            net.metric()
        );
    }
    Ok(())
}

impl<'a> Tally<'a> {
    fn new(net: &FeatureNet, heads: Option<&'a AttributeHeads>) -> Self {
        Self {
            features: FeatureAccumulator::new(net.dim()),
            heads,
            correct: vec![0.0; heads.map_or(0, |h| h.names().len())],
            scored: 0,
        }
    }

    /// Add a batch of images (`[-1, 1]`) whose captions asked for `attrs`.
    fn add(
        &mut self,
        net: &FeatureNet,
        images: Tensor<4>,
        attrs: &[ShapeAttributes],
    ) -> Result<()> {
        let rows = net.features(images)?;
        if let Some(h) = self.heads {
            for (row, a) in rows.iter().zip(attrs) {
                for (c, hit) in self.correct.iter_mut().zip(h.score(row, a)?) {
                    *c += hit;
                }
                self.scored += 1;
            }
        }
        self.features.push_rows(&rows)?;
        Ok(())
    }

    /// Per head: the fraction of images whose attribute the head read as asked.
    fn accuracy(&self) -> Vec<(String, f64)> {
        self.heads.map_or_else(Vec::new, |h| {
            h.names()
                .into_iter()
                .zip(self.correct.iter().map(|c| c / self.scored.max(1) as f64))
                .collect()
        })
    }
}

/// What [`run_grid`] measured.
pub struct GridResult {
    /// The feature network's distance ([`FeatureNet::metric`]).
    pub metric: String,
    pub cells: Vec<Cell>,
    /// Attribute accuracy of the real held-out images (what the heads can read at best);
    /// empty without heads.
    pub reference_accuracy: Vec<(String, f64)>,
    /// What a perfect model, and a perfect one behind this model's codec, would score.
    pub floors: Floors,
}

/// The real held-out side of a grid: feature statistics for FD and the heads' accuracy on
/// the real images. Computed once and shared by every model evaluated on the same grid.
pub struct Reference {
    stats: FeatureStats,
    accuracy: Vec<(String, f64)>,
    /// [`Floors::real`].
    real_floor: Scores,
}

/// The grid's held-out prompts, the attributes they ask for, and its image batches.
struct Held {
    data: ShapesDataset,
    prompts: Vec<String>,
    attrs: Vec<ShapeAttributes>,
    batches: Vec<std::ops::Range<usize>>,
}

impl Held {
    fn new(grid: &Grid) -> Result<Self> {
        if grid.n < 2 || grid.batch == 0 {
            bail!("need at least 2 images per cell and a batch of at least 1");
        }
        let data = grid.domain.dataset(Split::Heldout, grid.n);
        Ok(Self {
            prompts: (0..grid.n)
                .map(|k| grid.domain.caption(data.sample_index(k)))
                .collect(),
            attrs: (0..grid.n).map(|k| data.attributes(k)).collect(),
            batches: (0..grid.n)
                .step_by(grid.batch)
                .map(|start| start..(start + grid.batch).min(grid.n))
                .collect(),
            data,
        })
    }
}

impl Reference {
    /// Featurize the grid's real held-out images (once for both FD and the accuracy ceiling).
    pub fn compute(
        net: &FeatureNet,
        heads: Option<&AttributeHeads>,
        grid: &Grid,
        device: &Device,
    ) -> Result<Self> {
        check_heads(net, heads)?;
        let held = Held::new(grid)?;
        let mut real = Tally::new(net, heads);
        for r in &held.batches {
            let images: Vec<Tensor<4>> = r
                .clone()
                .map(|k| from_rgb8(&grid.domain.render(held.data.sample_index(k)), device))
                .collect();
            real.add(net, Tensor::cat(images, 0), &held.attrs[r.clone()])?;
        }
        let stats = real.features.stats()?;
        let real_floor = floors::second_set(net, heads, grid, &stats, device, |x| x)?;
        Ok(Self {
            stats,
            accuracy: real.accuracy(),
            real_floor,
        })
    }
}

/// Run the grid with `model` (base or tuned denoiser, any family) against `reference` (from
/// [`Reference::compute`] on the same grid, network and heads). `progress` gets one line per
/// cell and seed.
pub fn run_grid<F: Family>(
    model: &Model<F>,
    net: &FeatureNet,
    heads: Option<&AttributeHeads>,
    grid: &Grid,
    reference: &Reference,
    device: &Device,
    mut progress: impl FnMut(&str),
) -> Result<GridResult> {
    check_heads(net, heads)?;
    let Held {
        prompts,
        attrs,
        batches,
        ..
    } = Held::new(grid)?;
    let size = grid.domain.image_size as usize;
    let mut cells = Vec::new();
    for &sampler in &grid.samplers {
        let config = model.scheduler.config(sampler)?;
        for &steps in &grid.steps {
            let scheduler = Scheduler::new(&config, steps)?;
            for &cfg in &grid.cfgs {
                let mut fd = Vec::new();
                let mut seed_accuracy = Vec::new();
                for &seed in &grid.seeds {
                    let mut generated = Tally::new(net, heads);
                    for r in &batches {
                        let request =
                            Request::txt2img(prompts[r.clone()].to_vec(), cfg, size, size);
                        // Image k of seed s always gets the same noise: seed·n + k.
                        let mut noise =
                            SeededNoise::new(seed * grid.n as u64 + r.start as u64, r.len());
                        let out = model
                            .pipeline()
                            .generate(&scheduler, &request, &mut noise, device)?;
                        generated.add(
                            net,
                            out.images.mul_scalar(2.0).sub_scalar(1.0),
                            &attrs[r.clone()],
                        )?;
                    }
                    let d = frechet_distance(&generated.features.stats()?, &reference.stats)?;
                    progress(&format!(
                        "{sampler} steps {steps} cfg {cfg} seed {seed}: FD {d:.4}"
                    ));
                    fd.push(d);
                    seed_accuracy.push(generated.accuracy());
                }
                cells.push(Cell {
                    sampler,
                    steps,
                    cfg,
                    scores: Scores {
                        seeds: grid.seeds.clone(),
                        fd,
                        seed_accuracy,
                    },
                });
            }
        }
    }
    let codec_floor = floors::second_set(net, heads, grid, &reference.stats, device, |x| {
        floors::round_trip(&model.codec, x)
    })?;
    Ok(GridResult {
        metric: net.metric().to_string(),
        cells,
        reference_accuracy: reference.accuracy.clone(),
        floors: Floors {
            real: reference.real_floor.clone(),
            codec: codec_floor,
        },
    })
}

/// The grid as a markdown table (FD mean ± std over seeds; attribute accuracy when scored).
pub fn markdown(label: &str, result: &GridResult, seeds: usize, n: usize) -> String {
    let cells = &result.cells;
    let heads: Vec<String> = cells
        .first()
        .map(|c| c.scores.accuracy().iter().map(|(h, _)| h.clone()).collect())
        .unwrap_or_default();
    let mut s = format!(
        "### {label}\n\nFréchet distance to {n} held-out images, mean ± std over {seeds} seed(s){}.\nFeature network: {}.\n\n| sampler | steps | CFG | FD |",
        if heads.is_empty() {
            ""
        } else {
            "; attribute accuracy of the generated images (evaluation network's heads)"
        },
        result.metric
    );
    for h in &heads {
        let _ = write!(s, " {h} |");
    }
    s.push_str("\n|---|---:|---:|---:|");
    for _ in &heads {
        s.push_str("---:|");
    }
    s.push('\n');
    for c in cells {
        let _ = write!(
            s,
            "| {} | {} | {} | {:.4} ± {:.4} |",
            c.sampler,
            c.steps,
            c.cfg,
            c.scores.mean(),
            c.scores.std()
        );
        for (_, a) in &c.scores.accuracy() {
            let _ = write!(s, " {:.1}% |", 100.0 * a);
        }
        s.push('\n');
    }
    if !result.reference_accuracy.is_empty() {
        let _ = write!(
            s,
            "\nAttribute accuracy of the {n} real held-out images (the heads' ceiling): {}\n",
            accuracy_line(&result.reference_accuracy)
        );
    }
    s.push('\n');
    s.push_str(&floors_markdown(&result.floors, n));
    s
}

/// The floors ([`Floors`]) as two lines of markdown.
pub fn floors_markdown(floors: &Floors, n: usize) -> String {
    format!(
        "Floors: per seed, {n} more real images of the reference's captions (each drawn again \
         within its caption), scored against the same reference:\n\
         - as they are (a perfect model): {}\n\
         - through the VAE, encode → decode (a perfect model of the encoder's latents): {}\n",
        floors.real.line(),
        floors.codec.line()
    )
}

/// `kind 32.8%, color 97.7%, …`: per-head accuracies on one line.
pub fn accuracy_line(accuracy: &[(String, f64)]) -> String {
    accuracy
        .iter()
        .map(|(name, a)| format!("{name} {:.1}%", 100.0 * a))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The attribute heads whose accuracy `report.csv` / `eval.csv` carry, in column order
/// (`acc_<head>`).
pub const CSV_ACCURACY_HEADS: [&str; 5] = ["kind", "color", "size", "position", "background"];

/// The header of [`csv`]'s rows.
pub fn csv_header() -> String {
    let acc: Vec<String> = CSV_ACCURACY_HEADS
        .iter()
        .map(|h| format!("acc_{h}"))
        .collect();
    format!("model,sampler,steps,cfg,seed,fd,{}\n", acc.join(","))
}

/// The grid as CSV rows under [`csv_header`]: one per cell and evaluation seed, with that
/// seed's attribute accuracies (empty fields when the network has no such head).
pub fn csv(label: &str, cells: &[Cell]) -> String {
    let mut s = String::new();
    for c in cells {
        for (i, fd) in c.scores.fd.iter().enumerate() {
            let acc: Vec<String> = CSV_ACCURACY_HEADS
                .iter()
                .map(|h| {
                    c.scores
                        .seed_accuracy
                        .get(i)
                        .and_then(|row| row.iter().find(|(n, _)| n == h))
                        .map_or(String::new(), |(_, a)| format!("{a}"))
                })
                .collect();
            let _ = writeln!(
                s,
                "{label},{},{},{},{},{fd},{}",
                c.sampler,
                c.steps,
                c.cfg,
                c.scores.seeds[i],
                acc.join(",")
            );
        }
    }
    s
}

/// Write `eval.md`, `eval.csv` and the plot `eval.png` into `out`.
pub fn write_report(
    out: &Path,
    label: &str,
    result: &GridResult,
    seeds: usize,
    n: usize,
) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let md = out.join("eval.md");
    std::fs::write(&md, markdown(label, result, seeds, n))
        .with_context(|| format!("writing {}", md.display()))?;
    let path = out.join("eval.csv");
    let body = format!("{}{}", csv_header(), csv(label, &result.cells));
    std::fs::write(&path, body).with_context(|| format!("writing {}", path.display()))?;
    plot::fd_bars(
        &out.join("eval.png"),
        &format!("FD to held-out images: {label}"),
        &cell_labels(&result.cells),
        &[plot::Series {
            name: label.to_string(),
            values: result
                .cells
                .iter()
                .map(|c| (c.scores.mean(), c.scores.std()))
                .collect(),
        }],
    )
}

/// Short x-axis labels of grid cells: `ddim 8 cfg 1`.
pub fn cell_labels(cells: &[Cell]) -> Vec<String> {
    cells
        .iter()
        .map(|c| format!("{} {} cfg {}", c.sampler, c.steps, c.cfg))
        .collect()
}

//! A procedural text-to-image domain: one coloured shape on a background,
//! captioned with its attributes, e.g.
//! `"a large red circle on a blue background at the top left"`.
//!
//! Every sample is a pure function of `(seed, index)` — any `u64` index is
//! valid, nothing is stored — so the domain is unlimited, needs no download,
//! and a run or an evaluation can be repeated bit for bit. The attributes are
//! returned as a [`ShapeAttributes`] for attribute-accuracy evaluation, and
//! [`ShapeAttributes::from_caption`] parses a caption back.
//!
//! # What an image is
//!
//! Attributes, each uniform and independent (6·8·7·2·9 = 6048 combinations):
//! [`ShapeKind`] (circle, square, triangle, ring, cross, diamond), the shape's
//! [`ShapeColor`] (8 named colours), the background colour (one of the other
//! 7), [`ShapeSize`] (small/large) and [`Position`] (a cell of a 3×3 grid).
//! Within an attribute combination images still vary: the centre is jittered
//! by up to ±2% of the image size, the size by ±8%, each colour by up to ±8
//! per channel, and the background carries a faint linear light gradient in a
//! random direction. Edges are antialiased by supersampling (`supersample²`
//! samples per pixel, box filter), so pixels along edges are blends.
//!
//! Rendering uses only `+ − × ÷ √` and comparisons (no `sin`/`cos` from a
//! platform libm), so the bytes are the same on every IEEE-754 machine.
//!
//! # Randomness
//!
//! Sample `index` draws from ChaCha8 keyed by (seed, index, `"adt-shp"`), in
//! this order: kind, colour, background, size, position, centre jitter (x, y),
//! size jitter, colour jitter (3 + 3 channels), gradient (x, y).
//! [`ShapesDomain::redraw`] keeps the attributes and draws the rest again from
//! a stream keyed by (seed, index, `"adt-alt"`, variant): another image of the
//! same caption.
//!
//! # Splits
//!
//! [`Split::Train`] is the even indices, [`Split::Heldout`] the odd ones:
//! element `k` of a split is sample `2k` or `2k + 1` ([`Split::index`]), so the
//! two are disjoint and each is unlimited. They are drawn from the same
//! distribution (a held-out *set of images*, not held-out attribute
//! combinations).
//!
//! # As a dataset
//!
//! [`ShapesDataset`] is a fixed-length view of one split and a burn
//! [`Dataset`] of [`ImageCaptionItem`]s — the item the file-backed
//! [`ImageCaptionDataset`](crate::ImageCaptionDataset) yields — so it batches
//! with [`ImageCaptionBatcher`](crate::ImageCaptionBatcher) /
//! [`make_batch`](crate::make_batch). All images have one size, so any sampler
//! works.

use std::fmt;
use std::str::FromStr;

use burn::data::dataset::{Dataset, DatasetError};
use image::{Rgb, RgbImage};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::dataset::ImageCaptionItem;
use crate::transform::{Applied, ImageTensor};

/// The kind of shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShapeKind {
    Circle,
    Square,
    Triangle,
    Ring,
    Cross,
    Diamond,
}

impl ShapeKind {
    /// Every kind, in draw order.
    pub const ALL: [Self; 6] = [
        Self::Circle,
        Self::Square,
        Self::Triangle,
        Self::Ring,
        Self::Cross,
        Self::Diamond,
    ];

    /// The caption word.
    pub fn name(self) -> &'static str {
        match self {
            Self::Circle => "circle",
            Self::Square => "square",
            Self::Triangle => "triangle",
            Self::Ring => "ring",
            Self::Cross => "cross",
            Self::Diamond => "diamond",
        }
    }

    /// Whether the point (dx, dy), relative to the centre and in units of the
    /// shape's half-extent, is inside the shape.
    fn contains(self, dx: f32, dy: f32) -> bool {
        match self {
            Self::Circle => dx * dx + dy * dy <= 1.0,
            // Side 1.7 (not 2): about the circle's area.
            Self::Square => dx.abs() <= 0.85 && dy.abs() <= 0.85,
            // Apex at the top, base 2 wide, height 1.8.
            Self::Triangle => (-1.0..=0.8).contains(&dy) && dx.abs() <= (dy + 1.0) * (1.0 / 1.8),
            Self::Ring => {
                let r2 = dx * dx + dy * dy;
                (0.3025..=1.0).contains(&r2) // inner radius 0.55
            }
            Self::Cross => {
                let (ax, ay) = (dx.abs(), dy.abs());
                (ax <= 0.3 && ay <= 1.0) || (ay <= 0.3 && ax <= 1.0)
            }
            Self::Diamond => dx.abs() + dy.abs() <= 1.0,
        }
    }
}

/// A named colour (shape or background).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShapeColor {
    Red,
    Orange,
    Yellow,
    Green,
    Blue,
    Purple,
    White,
    Black,
}

impl ShapeColor {
    /// Every colour, in draw order.
    pub const ALL: [Self; 8] = [
        Self::Red,
        Self::Orange,
        Self::Yellow,
        Self::Green,
        Self::Blue,
        Self::Purple,
        Self::White,
        Self::Black,
    ];

    /// The caption word.
    pub fn name(self) -> &'static str {
        match self {
            Self::Red => "red",
            Self::Orange => "orange",
            Self::Yellow => "yellow",
            Self::Green => "green",
            Self::Blue => "blue",
            Self::Purple => "purple",
            Self::White => "white",
            Self::Black => "black",
        }
    }

    /// The nominal sRGB value (samples jitter it by up to ±8 per channel).
    pub fn rgb(self) -> [u8; 3] {
        match self {
            Self::Red => [215, 40, 40],
            Self::Orange => [240, 140, 30],
            Self::Yellow => [235, 215, 45],
            Self::Green => [45, 165, 65],
            Self::Blue => [40, 80, 215],
            Self::Purple => [135, 55, 185],
            Self::White => [240, 240, 240],
            Self::Black => [22, 22, 22],
        }
    }

    /// The named colour whose nominal value is nearest to `rgb` (squared
    /// Euclidean distance) — for classifying generated pixels.
    pub fn nearest(rgb: [u8; 3]) -> Self {
        let d2 = |c: Self| {
            c.rgb()
                .iter()
                .zip(rgb)
                .map(|(&a, b)| (a as i32 - b as i32).pow(2))
                .sum::<i32>()
        };
        Self::ALL
            .into_iter()
            .min_by_key(|&c| d2(c))
            .expect("non-empty palette")
    }
}

/// The shape's size class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShapeSize {
    Small,
    Large,
}

impl ShapeSize {
    /// Both sizes, in draw order.
    pub const ALL: [Self; 2] = [Self::Small, Self::Large];

    /// The caption word.
    pub fn name(self) -> &'static str {
        match self {
            Self::Small => "small",
            Self::Large => "large",
        }
    }

    /// Nominal half-extent as a fraction of the image size (a grid cell is 1/3).
    pub fn half_extent(self) -> f32 {
        match self {
            Self::Small => 0.10,
            Self::Large => 0.15,
        }
    }
}

/// A cell of the 3×3 grid: `row` 0 = top … 2 = bottom, `col` 0 = left … 2 = right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Position {
    pub row: u8,
    pub col: u8,
}

impl Position {
    /// The nine cells, row-major (draw order).
    pub const ALL: [Self; 9] = {
        let mut all = [Self { row: 0, col: 0 }; 9];
        let mut i = 0;
        while i < 9 {
            all[i] = Self {
                row: (i / 3) as u8,
                col: (i % 3) as u8,
            };
            i += 1;
        }
        all
    };

    /// The caption phrase.
    pub fn phrase(self) -> &'static str {
        const PHRASES: [[&str; 3]; 3] = [
            ["at the top left", "at the top", "at the top right"],
            ["on the left", "in the center", "on the right"],
            ["at the bottom left", "at the bottom", "at the bottom right"],
        ];
        PHRASES[self.row.min(2) as usize][self.col.min(2) as usize]
    }

    /// The phrase without its preposition ("the top left", "the center"): a class name.
    pub fn name(self) -> &'static str {
        let p = self.phrase();
        p.split_once(' ').map_or(p, |(_, rest)| rest)
    }

    /// The cell's pixel rectangle `(x0, y0, x1, y1)` (exclusive end) in an
    /// image of `size`×`size`.
    pub fn cell(self, size: u32) -> (u32, u32, u32, u32) {
        let edge = |k: u32| (k * size + 1) / 3;
        let (r, c) = (self.row.min(2) as u32, self.col.min(2) as u32);
        (edge(c), edge(r), edge(c + 1), edge(r + 1))
    }
}

/// What a sample shows; its caption is [`Self::caption`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ShapeAttributes {
    pub kind: ShapeKind,
    pub color: ShapeColor,
    pub size: ShapeSize,
    pub position: Position,
    /// Never equal to `color`.
    pub background: ShapeColor,
}

/// A caption that is not of the form [`ShapeAttributes::caption`] writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a shapes caption ({reason}): {caption:?}")]
pub struct CaptionParseError {
    /// The caption as given.
    pub caption: String,
    /// What did not match.
    pub reason: String,
}

impl ShapeAttributes {
    /// `"a {size} {color} {kind} on a {background} background {position}"`
    /// (`"an"` before `orange`), e.g.
    /// `"a large red circle on a blue background at the top left"`.
    pub fn caption(&self) -> String {
        let bg = self.background.name();
        let article = if bg.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        format!(
            "a {} {} {} on {article} {bg} background {}",
            self.size.name(),
            self.color.name(),
            self.kind.name(),
            self.position.phrase()
        )
    }

    /// Parses a caption written by [`Self::caption`] (ASCII case, runs of
    /// whitespace and `a`/`an` are not told apart).
    pub fn from_caption(caption: &str) -> Result<Self, CaptionParseError> {
        let fail = |reason: String| CaptionParseError {
            caption: caption.to_string(),
            reason,
        };
        let lower = caption.to_ascii_lowercase();
        let words: Vec<&str> = lower.split_whitespace().collect();
        // a SIZE COLOR KIND on a(n) BG background POSITION...
        if words.len() < 9 {
            return Err(fail(format!("{} words, expected at least 9", words.len())));
        }
        let expect = |i: usize, w: &str| {
            if words[i] == w {
                Ok(())
            } else {
                Err(fail(format!(
                    "word {} is {:?}, expected {w:?}",
                    i + 1,
                    words[i]
                )))
            }
        };
        let pick = |i: usize, what: &str, names: &[&str]| {
            names
                .iter()
                .position(|n| *n == words[i])
                .ok_or_else(|| fail(format!("unknown {what} {:?}", words[i])))
        };
        let color_names = ShapeColor::ALL.map(ShapeColor::name);
        expect(0, "a")?;
        let size = ShapeSize::ALL[pick(1, "size", &ShapeSize::ALL.map(ShapeSize::name))?];
        let color = ShapeColor::ALL[pick(2, "colour", &color_names)?];
        let kind = ShapeKind::ALL[pick(3, "shape", &ShapeKind::ALL.map(ShapeKind::name))?];
        expect(4, "on")?;
        if words[5] != "an" {
            expect(5, "a")?;
        }
        let background = ShapeColor::ALL[pick(6, "background colour", &color_names)?];
        expect(7, "background")?;
        let rest = words[8..].join(" ");
        let position = Position::ALL
            .into_iter()
            .find(|p| p.phrase() == rest)
            .ok_or_else(|| fail(format!("unknown position {rest:?}")))?;
        Ok(Self {
            kind,
            color,
            size,
            position,
            background,
        })
    }
}

impl fmt::Display for ShapeAttributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.caption())
    }
}

impl FromStr for ShapeAttributes {
    type Err = CaptionParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_caption(s)
    }
}

/// Which half of the index space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// Even sample indices.
    Train,
    /// Odd sample indices.
    Heldout,
}

impl Split {
    /// The sample index of element `k` of this split: `2k` (train) or `2k + 1`
    /// (held out). Panics past `u64::MAX / 2` (beyond any real use).
    pub fn index(self, k: u64) -> u64 {
        let base = k.checked_mul(2).expect("split element out of range");
        match self {
            Self::Train => base,
            Self::Heldout => base + 1,
        }
    }

    /// The split sample `index` belongs to.
    pub fn of(index: u64) -> Self {
        if index.is_multiple_of(2) {
            Self::Train
        } else {
            Self::Heldout
        }
    }

    /// `"train"` or `"heldout"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Train => "train",
            Self::Heldout => "heldout",
        }
    }
}

/// The geometry and colours drawn for one sample (everything rendering needs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ShapeLayout {
    pub attributes: ShapeAttributes,
    /// Centre in pixels (x, y); pixel (x, y) covers [x, x+1) × [y, y+1).
    pub center: (f32, f32),
    /// Half-extent in pixels.
    pub half_extent: f32,
    /// Shape colour after jitter.
    pub fill: [u8; 3],
    /// Background colour after jitter (at the image centre).
    pub background: [u8; 3],
    /// Background light gradient (gx, gy), each within ±0.08: the light factor
    /// is 1 + gx·u + gy·v for u, v ∈ [−½, ½] across the image, so 0.92…1.08.
    pub gradient: (f32, f32),
}

/// One generated sample.
#[derive(Debug, Clone)]
pub struct ShapeSample {
    /// The sample index (not a split's element index).
    pub index: u64,
    pub layout: ShapeLayout,
    /// [`ShapeAttributes::caption`] of `layout.attributes`.
    pub caption: String,
    pub image: RgbImage,
}

impl ShapeSample {
    pub fn attributes(&self) -> ShapeAttributes {
        self.layout.attributes
    }
}

/// The domain: image size, seed and antialiasing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShapesDomain {
    /// Width and height in pixels (at least 8).
    pub image_size: u32,
    pub seed: u64,
    /// Samples per pixel along each axis (1 = aliased; default 4).
    pub supersample: u32,
}

impl Default for ShapesDomain {
    fn default() -> Self {
        Self {
            image_size: 64,
            seed: 0,
            supersample: 4,
        }
    }
}

/// Maximum colour jitter per channel.
const COLOR_JITTER: i32 = 8;
/// Maximum centre jitter, as a fraction of the image size.
const CENTER_JITTER: f32 = 0.02;
/// Maximum relative size jitter.
const SIZE_JITTER: f32 = 0.08;
/// Maximum slope of the background light along each axis (see
/// [`ShapeLayout::gradient`]): the light stays within 1 ± 0.08.
const GRADIENT: f32 = 0.08;

impl ShapesDomain {
    /// `image_size`×`image_size` images from `seed`, 4×4 supersampling.
    pub fn new(image_size: u32, seed: u64) -> Self {
        Self {
            image_size,
            seed,
            ..Self::default()
        }
    }

    fn rng(&self, index: u64) -> ChaCha8Rng {
        self.keyed_rng(index, b"adt-shp\0", 0)
    }

    /// ChaCha8 keyed by (seed, index, tag, variant).
    fn keyed_rng(&self, index: u64, tag: &[u8; 8], variant: u64) -> ChaCha8Rng {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&self.seed.to_le_bytes());
        key[8..16].copy_from_slice(&index.to_le_bytes());
        key[16..24].copy_from_slice(tag);
        key[24..32].copy_from_slice(&variant.to_le_bytes());
        ChaCha8Rng::from_seed(key)
    }

    /// The attributes of sample `index` (cheap: no rendering).
    pub fn attributes(&self, index: u64) -> ShapeAttributes {
        self.layout(index).attributes
    }

    /// The caption of sample `index` (cheap: no rendering).
    pub fn caption(&self, index: u64) -> String {
        self.attributes(index).caption()
    }

    /// Everything drawn for sample `index`.
    pub fn layout(&self, index: u64) -> ShapeLayout {
        let mut rng = self.rng(index);
        let kind = ShapeKind::ALL[rng.random_range(0..ShapeKind::ALL.len())];
        let ci = rng.random_range(0..ShapeColor::ALL.len());
        // The background is one of the other colours.
        let mut bi = rng.random_range(0..ShapeColor::ALL.len() - 1);
        if bi >= ci {
            bi += 1;
        }
        let size = ShapeSize::ALL[rng.random_range(0..ShapeSize::ALL.len())];
        let position = Position::ALL[rng.random_range(0..Position::ALL.len())];
        let attributes = ShapeAttributes {
            kind,
            color: ShapeColor::ALL[ci],
            size,
            position,
            background: ShapeColor::ALL[bi],
        };
        self.vary(attributes, &mut rng)
    }

    /// Another image of sample `index`'s caption: the same attributes, with the variation
    /// within them (centre, size and colour jitter, light gradient) drawn again from ChaCha8
    /// keyed by (seed, index, `"adt-alt"`, `variant`). For evaluation floors: a second set of
    /// real images with exactly the captions of the first.
    pub fn redraw(&self, index: u64, variant: u64) -> ShapeLayout {
        let attributes = self.attributes(index);
        self.vary(
            attributes,
            &mut self.keyed_rng(index, b"adt-alt\0", variant),
        )
    }

    /// The variation within an attribute combination, drawn in the documented order.
    fn vary(&self, attributes: ShapeAttributes, rng: &mut ChaCha8Rng) -> ShapeLayout {
        let s = self.image_size as f32;
        let jx = rng.random_range(-CENTER_JITTER..=CENTER_JITTER);
        let jy = rng.random_range(-CENTER_JITTER..=CENTER_JITTER);
        let js = rng.random_range(-SIZE_JITTER..=SIZE_JITTER);
        let half_extent = attributes.size.half_extent() * (1.0 + js) * s;
        let cell_center = |k: u8| (2.0 * k as f32 + 1.0) / 6.0;
        // Keep the shape inside the image.
        let clamp = |v: f32| v.clamp(half_extent, s - half_extent);
        let center = (
            clamp((cell_center(attributes.position.col) + jx) * s),
            clamp((cell_center(attributes.position.row) + jy) * s),
        );
        let mut jitter = |c: [u8; 3]| {
            c.map(|v| {
                (v as i32 + rng.random_range(-COLOR_JITTER..=COLOR_JITTER)).clamp(0, 255) as u8
            })
        };
        let fill = jitter(attributes.color.rgb());
        let background = jitter(attributes.background.rgb());
        let gradient = (
            rng.random_range(-GRADIENT..=GRADIENT),
            rng.random_range(-GRADIENT..=GRADIENT),
        );
        ShapeLayout {
            attributes,
            center,
            half_extent,
            fill,
            background,
            gradient,
        }
    }

    /// Renders a layout (drawn by [`Self::layout`] for this domain's size).
    pub fn render_layout(&self, layout: &ShapeLayout) -> RgbImage {
        let size = self.image_size;
        let ss = self.supersample.max(1);
        let step = 1.0 / ss as f32;
        let inv_r = 1.0 / layout.half_extent;
        let s = size as f32;
        let total = (ss * ss) as f32;
        let (cx, cy) = layout.center;
        RgbImage::from_fn(size, size, |x, y| {
            let mut inside = 0u32;
            for sy in 0..ss {
                let py = y as f32 + (sy as f32 + 0.5) * step;
                for sx in 0..ss {
                    let px = x as f32 + (sx as f32 + 0.5) * step;
                    if layout
                        .attributes
                        .kind
                        .contains((px - cx) * inv_r, (py - cy) * inv_r)
                    {
                        inside += 1;
                    }
                }
            }
            let coverage = inside as f32 / total;
            // Light gradient through the image centre, on the background only.
            let u = (x as f32 + 0.5) / s - 0.5;
            let v = (y as f32 + 0.5) / s - 0.5;
            let light = 1.0 + layout.gradient.0 * u + layout.gradient.1 * v;
            Rgb(std::array::from_fn(|c| {
                let bg = (layout.background[c] as f32 * light).clamp(0.0, 255.0);
                let fg = layout.fill[c] as f32;
                (bg + (fg - bg) * coverage).round().clamp(0.0, 255.0) as u8
            }))
        })
    }

    /// Renders sample `index`.
    pub fn render(&self, index: u64) -> RgbImage {
        self.render_layout(&self.layout(index))
    }

    /// Sample `index`: layout, caption and image.
    pub fn sample(&self, index: u64) -> ShapeSample {
        let layout = self.layout(index);
        ShapeSample {
            index,
            caption: layout.attributes.caption(),
            image: self.render_layout(&layout),
            layout,
        }
    }

    /// Sample `index` as the data crate's item (`[3, H, W]` in [-1, 1]);
    /// `dataset_index` fills `index`/`requested_index`.
    pub fn item(&self, index: u64, dataset_index: usize) -> ImageCaptionItem {
        let sample = self.sample(index);
        let size = self.image_size;
        ImageCaptionItem {
            index: dataset_index,
            requested_index: dataset_index,
            name: format!("shapes/seed-{}/{index}", self.seed),
            caption: sample.caption,
            image: to_tensor(&sample.image),
            applied: Applied {
                original_size: (size, size),
                resized_size: (size, size),
                crop_top_left: (0, 0),
                flipped: false,
            },
        }
    }

    /// Write elements `0..len` of `split` as an image folder that the `image_folder` source
    /// reads: `NNNNNN.png` plus `metadata.jsonl` (`file_name`, `text`) in `dir`.
    pub fn write_image_folder(
        &self,
        dir: &std::path::Path,
        split: Split,
        len: usize,
    ) -> crate::error::Result<()> {
        use crate::error::DataError;
        use std::io::Write as _;
        std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
        let meta_path = dir.join("metadata.jsonl");
        let mut meta = String::new();
        for k in 0..len as u64 {
            let sample = self.sample(split.index(k));
            let file = format!("{k:06}.png");
            let path = dir.join(&file);
            sample.image.save(&path).map_err(|e| DataError::Source {
                path: path.clone(),
                message: e.to_string(),
            })?;
            let line = serde_json::json!({"file_name": file, "text": sample.caption});
            meta.push_str(&line.to_string());
            meta.push('\n');
        }
        let mut f = std::fs::File::create(&meta_path).map_err(|e| DataError::io(&meta_path, e))?;
        f.write_all(meta.as_bytes())
            .map_err(|e| DataError::io(&meta_path, e))?;
        Ok(())
    }

    /// A `len`-element view of `split` (elements `0..len`).
    pub fn dataset(&self, split: Split, len: usize) -> ShapesDataset {
        ShapesDataset {
            domain: *self,
            split,
            len,
        }
    }
}

/// `[3, H, W]` f32 in [-1, 1], as the data crate's preprocessing produces.
fn to_tensor(img: &RgbImage) -> ImageTensor {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let plane = w * h;
    let mut data = vec![0f32; 3 * plane];
    for (x, y, px) in img.enumerate_pixels() {
        let at = y as usize * w + x as usize;
        for c in 0..3 {
            data[c * plane + at] = px[c] as f32 / 127.5 - 1.0;
        }
    }
    ImageTensor {
        data,
        height: h,
        width: w,
    }
}

/// A fixed-length view of one split of a [`ShapesDomain`]: element `k` is
/// sample [`Split::index`]`(k)`. A burn [`Dataset`] of [`ImageCaptionItem`]s
/// whose `index` is `k` and whose `name` is `shapes/seed-S/INDEX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShapesDataset {
    pub domain: ShapesDomain,
    pub split: Split,
    pub len: usize,
}

impl ShapesDataset {
    /// The sample index of element `k`.
    pub fn sample_index(&self, k: usize) -> u64 {
        self.split.index(k as u64)
    }

    /// The attributes of element `k` (no rendering).
    pub fn attributes(&self, k: usize) -> ShapeAttributes {
        self.domain.attributes(self.sample_index(k))
    }
}

impl Dataset<ImageCaptionItem> for ShapesDataset {
    fn get(&self, index: usize) -> Result<ImageCaptionItem, DatasetError> {
        assert!(
            index < self.len,
            "index {index} out of bounds for a shapes dataset of {}",
            self.len
        );
        Ok(self.domain.item(self.sample_index(index), index))
    }

    fn len(&self) -> usize {
        self.len
    }
}

//! The latest validation sample as an image in the terminal, through ratatui-image:
//! sixel / kitty / iTerm2 where the terminal answers the capability query, Unicode
//! half-blocks elsewhere (and in tests). A file that cannot be read or decoded becomes a
//! placeholder carrying the reason.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use ratatui_image::picker::Picker;
use ratatui_image::protocol::StatefulProtocol;

use crate::state::DashboardState;

/// How often a missing/failed image is retried and `samples/` rescanned.
pub const RETRY_INTERVAL: Duration = Duration::from_secs(2);

/// Which image protocol to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImageMode {
    /// Query the terminal (sixel/kitty/iTerm2), fall back to half-blocks.
    Auto,
    /// Unicode half-blocks (works everywhere with colours).
    Halfblocks,
    /// Do not draw images.
    Off,
}

impl ImageMode {
    /// The ratatui-image picker for this mode. `Auto` writes a query to the terminal and
    /// reads the answer, so call it before the event loop starts reading keys.
    pub fn picker(self) -> Option<Picker> {
        match self {
            ImageMode::Off => None,
            ImageMode::Halfblocks => Some(Picker::halfblocks()),
            ImageMode::Auto => {
                Some(Picker::from_query_stdio().unwrap_or_else(|_| Picker::halfblocks()))
            }
        }
    }

    /// Like [`ImageMode::picker`] without talking to a terminal (`Auto` = half-blocks):
    /// for off-screen rendering.
    pub fn picker_offline(self) -> Option<Picker> {
        match self {
            ImageMode::Off => None,
            ImageMode::Halfblocks | ImageMode::Auto => Some(Picker::halfblocks()),
        }
    }
}

/// What the sample panel shows.
pub enum Content {
    Image(Box<StatefulProtocol>),
    /// Placeholder with the reason.
    Failed(String),
    /// Images are turned off.
    Disabled,
}

/// The sample currently on screen.
pub struct Shown {
    /// As written in the event (relative to the run directory).
    pub path: String,
    pub step: Option<u64>,
    pub prompts: Vec<String>,
    pub content: Content,
    modified: Option<SystemTime>,
    loaded_at: Instant,
}

/// Keeps the decoded latest sample, reloading when a newer one appears.
pub struct SampleImages {
    picker: Option<Picker>,
    shown: Option<Shown>,
    last_scan: Option<Instant>,
    scanned: Option<(String, SystemTime)>,
}

impl SampleImages {
    pub fn new(picker: Option<Picker>) -> Self {
        Self {
            picker,
            shown: None,
            last_scan: None,
            scanned: None,
        }
    }

    pub fn shown(&self) -> Option<&Shown> {
        self.shown.as_ref()
    }

    pub fn shown_mut(&mut self) -> Option<&mut Shown> {
        self.shown.as_mut()
    }

    /// Loads the newest sample of `st` (else the newest image file in `samples/`),
    /// resolving relative paths against `run_dir`.
    pub fn sync(&mut self, run_dir: Option<&Path>, st: &DashboardState) {
        let latest = match st.samples.last() {
            Some(s) => Some((s.path.clone(), s.step, s.prompts.clone())),
            None => run_dir
                .and_then(|d| self.scan(d))
                .map(|p| (p, None, Vec::new())),
        };
        let Some((path, step, prompts)) = latest else {
            self.shown = None;
            return;
        };
        let full = match run_dir {
            Some(d) => d.join(&path),
            None => PathBuf::from(&path),
        };
        let modified = std::fs::metadata(&full).and_then(|m| m.modified()).ok();
        if let Some(s) = &self.shown {
            let same = s.path == path && s.step == step && s.modified == modified;
            let retry =
                matches!(s.content, Content::Failed(_)) && s.loaded_at.elapsed() >= RETRY_INTERVAL;
            if same && !retry {
                return;
            }
        }
        let content = match &self.picker {
            None => Content::Disabled,
            Some(p) => match decode(&full) {
                Ok(img) => Content::Image(Box::new(p.new_resize_protocol(img))),
                Err(reason) => Content::Failed(reason),
            },
        };
        self.shown = Some(Shown {
            path,
            step,
            prompts,
            content,
            modified,
            loaded_at: Instant::now(),
        });
    }

    /// Newest `*.png`/`*.jpg` under `run_dir/samples`, rescanned at most every
    /// [`RETRY_INTERVAL`].
    fn scan(&mut self, run_dir: &Path) -> Option<String> {
        if self.last_scan.is_none_or(|t| t.elapsed() >= RETRY_INTERVAL) {
            self.last_scan = Some(Instant::now());
            let dir = run_dir.join("samples");
            self.scanned = std::fs::read_dir(&dir)
                .ok()?
                .filter_map(Result::ok)
                .filter(|e| {
                    let n = e.file_name().to_string_lossy().to_ascii_lowercase();
                    n.ends_with(".png") || n.ends_with(".jpg") || n.ends_with(".jpeg")
                })
                .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.file_name())))
                .max()
                .map(|(t, n)| (format!("samples/{}", n.to_string_lossy()), t));
        }
        self.scanned.as_ref().map(|(p, _)| p.clone())
    }
}

fn decode(path: &Path) -> Result<image::DynamicImage, String> {
    let reader = image::ImageReader::open(path).map_err(|e| e.to_string())?;
    let reader = reader.with_guessed_format().map_err(|e| e.to_string())?;
    reader.decode().map_err(|e| e.to_string())
}

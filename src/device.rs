//! `--device`: which burn backend runs the work (the CLI's and the examples' flag).

use burn::prelude::*;

/// A compute device by name. `wgpu` exists when the binary is built with `--features wgpu`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum DeviceArg {
    /// burn-flex on the CPU (always available).
    #[default]
    #[value(alias = "flex")]
    Cpu,
    /// The default wgpu adapter (Vulkan/Metal/DX12).
    #[cfg(feature = "wgpu")]
    Wgpu,
}

impl DeviceArg {
    /// The burn device (a plain one; callers add `.autodiff()` where they train).
    pub fn device(self) -> Device {
        match self {
            Self::Cpu => Device::flex(),
            #[cfg(feature = "wgpu")]
            Self::Wgpu => Device::wgpu(Default::default()),
        }
    }

    /// `n` devices for data-parallel training (plain ones): for `wgpu` the first `n` GPUs it
    /// reaches (discrete and integrated alike), in burn's enumeration order; the CPU backend is
    /// one device.
    pub fn devices(self, n: usize) -> Result<Vec<Device>, String> {
        match (self, n) {
            (_, 0) => Err("--devices must be at least 1".into()),
            (_, 1) => Ok(vec![self.device()]),
            (Self::Cpu, n) => Err(format!(
                "--devices {n}: the CPU backend (flex) is one device, and it already uses every \
                 core; data parallel needs --device wgpu (built with --features wgpu)"
            )),
            #[cfg(feature = "wgpu")]
            (Self::Wgpu, n) => {
                // The cards this build reaches (a CPU or a software rasterizer is no card), each
                // through its wgpu device: a world larger than the machine is refused here,
                // not when device n fails to come up mid-run.
                let cards = Device::enumerate_physical();
                if cards.len() < n {
                    let names: Vec<&str> = cards.iter().map(|c| c.name.as_str()).collect();
                    return Err(format!(
                        "--devices {n}: wgpu reaches {} GPU(s) on this machine {names:?}; ask \
                         for at most that many",
                        cards.len()
                    ));
                }
                cards
                    .into_iter()
                    .take(n)
                    .map(|card| {
                        let name = card.name.clone();
                        card.devices
                            .into_vec()
                            .into_iter()
                            .next()
                            .ok_or_else(|| format!("GPU {name}: no wgpu device reaches it"))
                    })
                    .collect()
            }
        }
    }

    /// The burn backend's name (`flex`, `wgpu`), as benchmark records name it.
    pub fn backend(self) -> &'static str {
        match self {
            Self::Cpu => "flex",
            #[cfg(feature = "wgpu")]
            Self::Wgpu => "wgpu",
        }
    }
}

impl std::fmt::Display for DeviceArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Cpu => "cpu",
            #[cfg(feature = "wgpu")]
            Self::Wgpu => "wgpu",
        })
    }
}

/// CPU time this process has used so far, all threads, user + system, in ms (Linux
/// `/proc/self/stat`, 10 ms resolution; `None` elsewhere). CPU time over wall time is how
/// many cores a phase kept busy.
pub fn process_cpu_ms() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks * 10.0) // USER_HZ is 100 on Linux
}

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

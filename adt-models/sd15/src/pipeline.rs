//! Text-to-image and image-to-image sampling with classifier-free guidance, step for step
//! as diffusers' `StableDiffusionPipeline` / `StableDiffusionImg2ImgPipeline` (eval mode,
//! `guidance_rescale = 0`, no safety checker).

use adt_plugin::traits::{Codec, Conditioner, Denoiser};
use adt_schedulers::{Scheduler, StepState};
use burn::prelude::*;

use crate::engine::{ClipConditioner, UnetDenoiser, VaeCodec};
use crate::error::{Result, Sd15Error};
use crate::noise::NoiseSource;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Request {
    /// One image per prompt.
    pub prompts: Vec<String>,
    /// Per-prompt negative prompts; empty means `""` for every prompt.
    pub negative_prompts: Vec<String>,
    /// CFG scale `w`: ε = ε_u + w·(ε_c − ε_u); no unconditional pass when `w ≤ 1`.
    pub guidance_scale: f64,
    /// Image height and width in pixels (multiples of the VAE downscale).
    pub height: usize,
    pub width: usize,
    /// img2img: start from this image instead of pure noise.
    pub init: Option<InitImage>,
}

/// The image-to-image start.
#[derive(Debug, Clone)]
pub struct InitImage {
    /// `[1 or B, 3, H, W]` in `[-1, 1]` (one image is used for every prompt).
    pub image: Tensor<4>,
    /// How much of the schedule to run, in `[0, 1]` (1 = ignore the image's content).
    pub strength: f64,
}

/// The result of a generation.
#[derive(Debug, Clone)]
pub struct Generated {
    /// `[B, 3, H, W]` in `[0, 1]` (`image / 2 + 0.5`, clamped, as `output_type="np"`).
    pub images: Tensor<4>,
    /// Final diffusion-space latents (`output_type="latent"`).
    pub latents: Tensor<4>,
}

/// The sampling loop over borrowed components (the base model's, or a generator being tuned).
pub struct Pipeline<'a> {
    pub denoiser: &'a UnetDenoiser,
    pub codec: &'a VaeCodec,
    pub conditioner: &'a ClipConditioner,
}

impl Pipeline<'_> {
    /// Run `scheduler` (already set to its step count) on `request`, drawing randomness from
    /// `noise`. With `init`, the start index follows diffusers' `get_timesteps(strength)`.
    pub fn generate(
        &self,
        scheduler: &Scheduler,
        request: &Request,
        noise: &mut dyn NoiseSource,
        device: &Device,
    ) -> Result<Generated> {
        let b = request.prompts.len();
        let (h, w) = self.latent_size(request)?;
        let c = self.codec.latent_channels();
        let cfg = request.guidance_scale > 1.0;

        let negative = self.negatives(request)?;
        let cond = self.conditioner.encode(&request.prompts, device);
        let cond = if cfg {
            let uncond = self.conditioner.encode(&negative, device);
            // diffusers batches [uncond, cond] into one UNet call.
            adt_plugin::traits::Conditioning::cat(&uncond, &cond)
        } else {
            cond
        };

        let (mut latents, start) = match &request.init {
            None => {
                let z = noise.draw([b, c, h, w], device)?;
                (z.mul_scalar(scheduler.init_noise_sigma()), 0)
            }
            Some(init) => self.img2img_start(scheduler, init, b, [b, c, h, w], noise, device)?,
        };

        let mut state = StepState::new();
        for i in start..scheduler.len() {
            let t = scheduler.timesteps()[i] as f32;
            let input = scheduler.scale_model_input(latents.clone(), i)?;
            let eps = if cfg {
                let x = Tensor::cat(vec![input.clone(), input], 0);
                let ts = Tensor::<1>::full([2 * b], t, device);
                let out = self.denoiser.forward(x, ts, &cond);
                let [u, c]: [Tensor<4>; 2] = out.chunk(2, 0).try_into().expect("two halves");
                u.clone() + (c - u).mul_scalar(request.guidance_scale)
            } else {
                self.denoiser
                    .forward(input, Tensor::<1>::full([b], t, device), &cond)
            };
            let step_noise = if scheduler.needs_noise(i)? {
                Some(noise.draw([b, c, h, w], device)?)
            } else {
                None
            };
            latents = scheduler.step(&mut state, i, eps, latents, step_noise)?;
        }

        let images = self.codec.decode(latents.clone());
        let images = (images.mul_scalar(0.5).add_scalar(0.5)).clamp(0.0, 1.0);
        Ok(Generated { images, latents })
    }

    fn latent_size(&self, request: &Request) -> Result<(usize, usize)> {
        let f = self.codec.downscale();
        if request.prompts.is_empty() {
            return Err(Sd15Error::Request("no prompts".into()));
        }
        if request.height == 0
            || request.width == 0
            || !request.height.is_multiple_of(f)
            || !request.width.is_multiple_of(f)
        {
            return Err(Sd15Error::Request(format!(
                "height and width must be positive multiples of {f} (the VAE's downscale), got {}x{}",
                request.height, request.width
            )));
        }
        Ok((request.height / f, request.width / f))
    }

    fn negatives(&self, request: &Request) -> Result<Vec<String>> {
        let b = request.prompts.len();
        match request.negative_prompts.len() {
            0 => Ok(vec![String::new(); b]),
            1 => Ok(vec![request.negative_prompts[0].clone(); b]),
            n if n == b => Ok(request.negative_prompts.clone()),
            n => Err(Sd15Error::Request(format!(
                "{n} negative prompts for {b} prompts (give one, or one per prompt)"
            ))),
        }
    }

    /// `StableDiffusionImg2ImgPipeline.prepare_latents`: sample the VAE posterior (one draw),
    /// scale, then `add_noise` at the first kept timestep (a second draw).
    fn img2img_start(
        &self,
        scheduler: &Scheduler,
        init: &InitImage,
        b: usize,
        shape: [usize; 4],
        noise: &mut dyn NoiseSource,
        device: &Device,
    ) -> Result<(Tensor<4>, usize)> {
        if !(0.0..=1.0).contains(&init.strength) {
            return Err(Sd15Error::Request(format!(
                "strength must be in [0, 1], got {}",
                init.strength
            )));
        }
        let [ib, ic, ih, iw] = init.image.dims();
        let f = self.codec.downscale();
        if ic != 3 || ih != shape[2] * f || iw != shape[3] * f || (ib != 1 && ib != b) {
            return Err(Sd15Error::Request(format!(
                "init image has shape {:?}; expected [1 or {b}, 3, {}, {}]",
                init.image.dims(),
                shape[2] * f,
                shape[3] * f
            )));
        }
        let image = if ib == 1 && b > 1 {
            init.image.clone().repeat_dim(0, b)
        } else {
            init.image.clone()
        };
        let start = scheduler.img2img_start(init.strength)?;
        if start >= scheduler.len() {
            return Err(Sd15Error::Request(format!(
                "strength {} leaves no denoising step out of {}",
                init.strength,
                scheduler.len()
            )));
        }
        let posterior = self.codec.vae.encode(image);
        let z = posterior.sample_with(noise.draw(shape, device)?);
        let z = self.codec.vae.scale_latents(z);
        let eps = noise.draw(shape, device)?;
        Ok((scheduler.add_noise_at(z, eps, start)?, start))
    }
}

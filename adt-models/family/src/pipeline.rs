//! Text-to-image and image-to-image sampling with classifier-free guidance for any
//! [`Family`], step for step as diffusers' `StableDiffusionPipeline` /
//! `StableDiffusionImg2ImgPipeline` and `StableDiffusionXLPipeline` /
//! `StableDiffusionXLImg2ImgPipeline` (eval mode, `guidance_rescale = 0`, no safety checker
//! or watermark). What differs between families — how prompts become a condition, SDXL's
//! `time_ids` — is the family's [`Conditioner`].

use adt_plugin::traits::{Codec, Conditioner, Conditioning, Denoiser, MicroCond};
use adt_schedulers::{Scheduler, StepState};
use burn::prelude::*;

use crate::adapters::{ComponentDenoiser, LatentCodec};
use crate::error::{FamilyError, Result};
use crate::family::Family;
use crate::noise::NoiseSource;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Request {
    /// One image per prompt.
    pub prompts: Vec<String>,
    /// Negative prompts: one for all, or one per prompt. `None` is diffusers'
    /// `negative_prompt=None`: the empty prompt, or zeros where the checkpoint asks for them
    /// (SDXL's `force_zeros_for_empty_prompt`).
    pub negative_prompts: Option<Vec<String>>,
    /// CFG scale `w`: ε = ε_u + w·(ε_c − ε_u); no unconditional pass when `w ≤ 1`.
    pub guidance_scale: f64,
    /// Image height and width in pixels (multiples of the VAE downscale).
    pub height: usize,
    pub width: usize,
    /// img2img: start from this image instead of pure noise.
    pub init: Option<InitImage>,
    /// Micro-conditioning of every image (SDXL's `original_size`, `crops_coords_top_left`,
    /// `target_size`, the refiner's `aesthetic_score`); `None` is diffusers' default:
    /// [`MicroCond::full`] of `(height, width)`.
    pub micro: Option<MicroCond>,
    /// The unconditional branch's micro-conditioning; `None` is diffusers' default, which
    /// the family's [`Conditioner::negative_micro`] gives (SDXL base: the same as `micro`;
    /// the refiner: crop `(0, 0)` and aesthetic score 2.5).
    pub negative_micro: Option<MicroCond>,
}

impl Request {
    /// A txt2img request with diffusers' defaults for everything optional.
    pub fn txt2img(prompts: Vec<String>, guidance_scale: f64, height: usize, width: usize) -> Self {
        Self {
            prompts,
            negative_prompts: None,
            guidance_scale,
            height,
            width,
            init: None,
            micro: None,
            negative_micro: None,
        }
    }

    /// The micro-conditioning of the conditional and the unconditional branch under
    /// `conditioner`'s defaults.
    pub fn micro_pair(&self, conditioner: &impl Conditioner) -> (MicroCond, MicroCond) {
        let pos = self
            .micro
            .unwrap_or_else(|| MicroCond::full((self.height as u32, self.width as u32)));
        let neg = self
            .negative_micro
            .unwrap_or_else(|| conditioner.negative_micro(&pos));
        (pos, neg)
    }
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

/// The sampling loop over borrowed components (a base model's, or a generator being tuned).
pub struct Pipeline<'a, F: Family> {
    pub denoiser: &'a F::Denoiser,
    pub codec: &'a F::Codec,
    pub conditioner: &'a F::Conditioner,
}

impl<F: Family> Pipeline<'_, F> {
    /// Run `scheduler` (already set to its step count) on `request`, drawing randomness from
    /// `noise`: the start latents (txt2img) or the VAE posterior sample then the start noise
    /// (img2img), then one tensor per stochastic step. With `init`, the start index follows
    /// diffusers' `get_timesteps(strength)`.
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
        let cond = self.condition(request, cfg, device)?;

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

    /// The denoiser's condition for the request: `[uncond, cond]` batched along the batch
    /// (diffusers' one UNet call for both branches) when guiding.
    fn condition(&self, request: &Request, cfg: bool, device: &Device) -> Result<Conditioning> {
        let b = request.prompts.len();
        let (micro, negative_micro) = request.micro_pair(self.conditioner);
        let negative = self.negatives(request)?;
        let cond = self.conditioner.condition(
            self.conditioner.encode_text(&request.prompts, device),
            &vec![micro; b],
        );
        if !cfg {
            return Ok(cond);
        }
        let negative_text = match negative {
            Some(negative) => self.conditioner.encode_text(&negative, device),
            None => self.conditioner.unconditional_text(b, device),
        };
        let uncond = self
            .conditioner
            .condition(negative_text, &vec![negative_micro; b]);
        Ok(Conditioning::cat(&uncond, &cond))
    }

    fn latent_size(&self, request: &Request) -> Result<(usize, usize)> {
        let f = self.codec.downscale();
        if request.prompts.is_empty() {
            return Err(FamilyError::Request("no prompts".into()));
        }
        if request.height == 0
            || request.width == 0
            || !request.height.is_multiple_of(f)
            || !request.width.is_multiple_of(f)
        {
            return Err(FamilyError::Request(format!(
                "height and width must be positive multiples of {f} (the VAE's downscale), got {}x{}",
                request.height, request.width
            )));
        }
        let (h, w) = (request.height / f, request.width / f);
        self.denoiser.check_latent_size(h, w)?;
        Ok((h, w))
    }

    /// One negative prompt per prompt, or `None` for diffusers' `negative_prompt=None`.
    fn negatives(&self, request: &Request) -> Result<Option<Vec<String>>> {
        let b = request.prompts.len();
        let Some(negative) = &request.negative_prompts else {
            return Ok(None);
        };
        match negative.len() {
            1 => Ok(Some(vec![negative[0].clone(); b])),
            n if n == b => Ok(Some(negative.clone())),
            n => Err(FamilyError::Request(format!(
                "{n} negative prompts for {b} prompts (give one, or one per prompt)"
            ))),
        }
    }

    /// diffusers' img2img `prepare_latents`: sample the VAE posterior (one draw), scale, then
    /// `add_noise` (`scale_noise` for flow) at the family's start index (a second draw).
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
            return Err(FamilyError::Request(format!(
                "strength must be in [0, 1], got {}",
                init.strength
            )));
        }
        let [ib, ic, ih, iw] = init.image.dims();
        let f = self.codec.downscale();
        if ic != 3 || ih != shape[2] * f || iw != shape[3] * f || (ib != 1 && ib != b) {
            return Err(FamilyError::Request(format!(
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
        let start = F::img2img_start(scheduler, init.strength)?;
        if start >= scheduler.len() {
            return Err(FamilyError::Request(format!(
                "strength {} leaves no denoising step out of {}",
                init.strength,
                scheduler.len()
            )));
        }
        let z = self.codec.encode_sample(image, noise.draw(shape, device)?);
        let eps = noise.draw(shape, device)?;
        Ok((scheduler.add_noise_at(z, eps, start)?, start))
    }
}

//! adt-diffusion

//! Key-remap tables: checkpoint key (regex) -> burn module path, applied in order.
//!
//! diffusers layout: the module tree mirrors diffusers' names, so the only rename is the
//! `proj_in`/`proj_out` enum variant ([`crate::transformer::Projection`]).
//!
//! Original (CompVis/LDM) single-file layout, ported from diffusers'
//! `loaders/single_file_utils.py` (`convert_ldm_unet_checkpoint`,
//! `convert_ldm_vae_checkpoint`, `DIFFUSERS_TO_LDM_MAPPING`):
//!
//! | LDM (`model.diffusion_model.`)           | diffusers                                  |
//! |------------------------------------------|--------------------------------------------|
//! | `time_embed.{0,2}`                       | `time_embedding.linear_{1,2}`              |
//! | `label_emb.0.{0,2}`                      | `add_embedding.linear_{1,2}` (SDXL)        |
//! | `input_blocks.0.0`                       | `conv_in`                                  |
//! | `input_blocks.{1+b(L+1)+l}.0` / `.1`     | `down_blocks.b.resnets.l` / `attentions.l` |
//! | `input_blocks.{1+b(L+1)+L}.0.op`         | `down_blocks.b.downsamplers.0.conv`        |
//! | `middle_block.{0,1,2}`                   | `mid_block.resnets.0`, `attentions.0`, `resnets.1` |
//! | `output_blocks.{b(L+1)+l}.0` / `.1`      | `up_blocks.b.resnets.l` / `attentions.l`   |
//! | `output_blocks.{b(L+1)+L}.{1 or 2}.conv` | `up_blocks.b.upsamplers.0.conv` (2 if the block has attention) |
//! | `out.{0,2}`                              | `conv_norm_out`, `conv_out`                |
//! | resnet `in_layers.{0,2}`, `emb_layers.1`, `out_layers.{0,3}`, `skip_connection` | `norm1`, `conv1`, `time_emb_proj`, `norm2`, `conv2`, `conv_shortcut` |
//!
//! | LDM (`first_stage_model.`)               | diffusers                                  |
//! |------------------------------------------|--------------------------------------------|
//! | `encoder.down.i.block.j` / `.downsample` | `encoder.down_blocks.i.resnets.j` / `.downsamplers.0` |
//! | `decoder.up.i.block.j` / `.upsample`     | `decoder.up_blocks.(n-1-i).resnets.j` / `.upsamplers.0` (reversed) |
//! | `{en,de}coder.mid.block_{1,2}`           | `mid_block.resnets.{0,1}`                  |
//! | `{en,de}coder.mid.attn_1.{norm,q,k,v,proj_out}` | `mid_block.attentions.0.{group_norm,to_q,to_k,to_v,to_out.0}` (1x1 conv weights reshaped to linear, see [`crate::single_file`]) |
//! | `{en,de}coder.norm_out`, `nin_shortcut`  | `conv_norm_out`, `conv_shortcut`           |

use crate::unet::UNet2DConditionConfig;
use crate::unet::config::UpBlockKind;
use crate::vae::AutoencoderKLConfig;

/// An owned remap table; [`as_pairs`] borrows it in the form `adt_models_common` takes.
pub type Remap = Vec<(String, String)>;

/// Borrow a table as `&[(&str, &str)]` pairs.
pub fn as_pairs(table: &Remap) -> Vec<(&str, &str)> {
    table
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect()
}

/// diffusers key -> module path: `...proj_in.weight` -> `...proj_in.Conv.weight` (or
/// `.Linear.` with `use_linear_projection`).
pub fn projection_remap(use_linear_projection: bool) -> Remap {
    let variant = if use_linear_projection {
        "Linear"
    } else {
        "Conv"
    };
    vec![(
        r"\.(proj_in|proj_out)\.(weight|bias)$".into(),
        format!(".${{1}}.{variant}.${{2}}"),
    )]
}

/// Module path -> diffusers key (the inverse of [`projection_remap`]), for export.
pub fn projection_export_remap() -> Remap {
    vec![(
        r"\.(proj_in|proj_out)\.(?:Conv|Linear)\.".into(),
        ".${1}.".into(),
    )]
}

fn prefix(from: String, to: String) -> (String, String) {
    (format!("^{}", from.replace('.', r"\.")), to)
}

/// LDM single-file key -> module path for the UNet (`model.diffusion_model.*`), built from
/// the config because the block numbering depends on `layers_per_block`.
pub fn unet_ldm_remap(
    config: &UNet2DConditionConfig,
    layers_per_block: &[usize],
    up: &[UpBlockKind],
) -> Remap {
    let p = "model.diffusion_model.";
    let mut t: Remap = vec![
        prefix(
            format!("{p}time_embed.0."),
            "time_embedding.linear_1.".into(),
        ),
        prefix(
            format!("{p}time_embed.2."),
            "time_embedding.linear_2.".into(),
        ),
        prefix(
            format!("{p}label_emb.0.0."),
            "add_embedding.linear_1.".into(),
        ),
        prefix(
            format!("{p}label_emb.0.2."),
            "add_embedding.linear_2.".into(),
        ),
        prefix(format!("{p}input_blocks.0.0."), "conv_in.".into()),
        prefix(format!("{p}out.0."), "conv_norm_out.".into()),
        prefix(format!("{p}out.2."), "conv_out.".into()),
        prefix(format!("{p}middle_block.0."), "mid_block.resnets.0.".into()),
        prefix(
            format!("{p}middle_block.1."),
            "mid_block.attentions.0.".into(),
        ),
        prefix(format!("{p}middle_block.2."), "mid_block.resnets.1.".into()),
    ];
    // Input blocks are numbered consecutively over all down blocks.
    let mut i = 1;
    for (b, &layers) in layers_per_block.iter().enumerate() {
        for l in 0..layers {
            t.push(prefix(
                format!("{p}input_blocks.{i}.0."),
                format!("down_blocks.{b}.resnets.{l}."),
            ));
            t.push(prefix(
                format!("{p}input_blocks.{i}.1."),
                format!("down_blocks.{b}.attentions.{l}."),
            ));
            i += 1;
        }
        if b + 1 < layers_per_block.len() {
            t.push(prefix(
                format!("{p}input_blocks.{i}.0.op."),
                format!("down_blocks.{b}.downsamplers.0.conv."),
            ));
            i += 1;
        }
    }
    let mut o = 0;
    let n = up.len();
    for (b, kind) in up.iter().enumerate() {
        let layers = layers_per_block[n - 1 - b] + 1;
        let has_attn = *kind == UpBlockKind::CrossAttnUpBlock2D;
        for l in 0..layers {
            t.push(prefix(
                format!("{p}output_blocks.{o}.0."),
                format!("up_blocks.{b}.resnets.{l}."),
            ));
            if l + 1 == layers && b + 1 < n {
                let idx = if has_attn { 2 } else { 1 };
                t.push(prefix(
                    format!("{p}output_blocks.{o}.{idx}.conv."),
                    format!("up_blocks.{b}.upsamplers.0.conv."),
                ));
            }
            if has_attn {
                t.push(prefix(
                    format!("{p}output_blocks.{o}.1."),
                    format!("up_blocks.{b}.attentions.{l}."),
                ));
            }
            o += 1;
        }
    }
    // Inside a resnet: LDM's Sequential indices -> diffusers names.
    let resnet = r"^((?:down_blocks|up_blocks)\.\d+\.resnets\.\d+|mid_block\.resnets\.\d+)\.";
    for (from, to) in [
        ("in_layers.0", "norm1"),
        ("in_layers.2", "conv1"),
        ("emb_layers.1", "time_emb_proj"),
        ("out_layers.0", "norm2"),
        ("out_layers.3", "conv2"),
        ("skip_connection", "conv_shortcut"),
    ] {
        t.push((
            format!(r"{resnet}{}\.", from.replace('.', r"\.")),
            format!("${{1}}.{to}."),
        ));
    }
    t.extend(projection_remap(config.use_linear_projection));
    t
}

/// LDM single-file key -> diffusers key for the VAE (`first_stage_model.*`). The result
/// is a diffusers key (not yet a module path); the VAE has no enum variants, so the two
/// coincide.
pub fn vae_ldm_remap(config: &AutoencoderKLConfig) -> Remap {
    let p = "first_stage_model.";
    let n = config.block_out_channels.len();
    let mut t: Remap = Vec::new();
    for part in ["encoder", "decoder"] {
        t.push(prefix(
            format!("{p}{part}.norm_out."),
            format!("{part}.conv_norm_out."),
        ));
        t.push(prefix(
            format!("{p}{part}.mid.block_1."),
            format!("{part}.mid_block.resnets.0."),
        ));
        t.push(prefix(
            format!("{p}{part}.mid.block_2."),
            format!("{part}.mid_block.resnets.1."),
        ));
        t.push(prefix(
            format!("{p}{part}.mid.attn_1."),
            format!("{part}.mid_block.attentions.0."),
        ));
    }
    for i in 0..n {
        t.push(prefix(
            format!("{p}encoder.down.{i}.block."),
            format!("encoder.down_blocks.{i}.resnets."),
        ));
        t.push(prefix(
            format!("{p}encoder.down.{i}.downsample."),
            format!("encoder.down_blocks.{i}.downsamplers.0."),
        ));
        let j = n - 1 - i;
        t.push(prefix(
            format!("{p}decoder.up.{i}.block."),
            format!("decoder.up_blocks.{j}.resnets."),
        ));
        t.push(prefix(
            format!("{p}decoder.up.{i}.upsample."),
            format!("decoder.up_blocks.{j}.upsamplers.0."),
        ));
    }
    t.push((format!("^{}", p.replace('.', r"\.")), String::new()));
    t.push((r"\.nin_shortcut\.".into(), ".conv_shortcut.".into()));
    let attn = r"^((?:en|de)coder\.mid_block\.attentions\.0)\.";
    for (from, to) in [
        ("norm", "group_norm"),
        ("q", "to_q"),
        ("k", "to_k"),
        ("v", "to_v"),
        ("proj_out", "to_out.0"),
    ] {
        t.push((format!(r"{attn}{from}\."), format!("${{1}}.{to}.")));
    }
    t
}

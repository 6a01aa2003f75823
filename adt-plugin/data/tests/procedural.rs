//! The procedural shapes domain: determinism, captions, splits, pixels, and
//! the burn `Dataset` view.

use std::collections::{BTreeMap, BTreeSet};

use adt_data::{
    ImageCaptionBatcher, Position, ShapeAttributes, ShapeColor, ShapeKind, ShapeSize, ShapesDomain,
    Split,
};
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::tensor::Device;
use image::{GenericImage, RgbImage};
use sha2::{Digest, Sha256};

fn linf(a: [u8; 3], b: [u8; 3]) -> u8 {
    a.iter().zip(b).map(|(&x, y)| x.abs_diff(y)).max().unwrap()
}

#[test]
fn same_seed_and_index_give_identical_bytes() {
    let a = ShapesDomain::new(48, 7);
    let b = ShapesDomain::new(48, 7);
    for index in [0, 1, 2, 99, 12_345, u64::MAX / 3, u64::MAX] {
        let (x, y) = (a.sample(index), b.sample(index));
        assert_eq!(x.image.as_raw(), y.image.as_raw(), "index {index}");
        assert_eq!(x.caption, y.caption);
        assert_eq!(x.layout, y.layout);
        // Rendering again from the same domain value, too.
        assert_eq!(a.render(index).as_raw(), x.image.as_raw());
        assert_eq!(a.caption(index), x.caption);
    }
}

/// Pins the bytes of a few samples, so a change of the renderer, of the draw
/// order or of a dependency's random stream (rand/rand_chacha are pinned) is
/// noticed: runs made before and after would not see the same data. Update the
/// digest deliberately when the domain is changed on purpose.
#[test]
fn golden_digest_of_the_first_samples() {
    let domain = ShapesDomain::new(32, 0);
    let mut h = Sha256::new();
    for index in 0..16 {
        let s = domain.sample(index);
        h.update(s.caption.as_bytes());
        h.update(s.image.as_raw());
    }
    let digest: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(digest, GOLDEN_DIGEST);
}

const GOLDEN_DIGEST: &str = "3625eba7ffec2c815940c5275603e32b5224aa5e605da6d4e2a22b85cc1967e6";

/// `redraw` keeps the caption and draws the variation again: deterministic per variant,
/// different from the sample and across variants, and within the sample's jitter bounds.
#[test]
fn redraw_keeps_the_attributes_and_varies_the_rest() {
    let domain = ShapesDomain::new(32, 0);
    let mut differ = 0;
    for index in 0..32 {
        let original = domain.layout(index);
        let a = domain.redraw(index, 0);
        assert_eq!(a, domain.redraw(index, 0), "index {index}");
        assert_eq!(a.attributes, original.attributes, "index {index}");
        assert_ne!(a, original, "index {index}");
        assert_ne!(a, domain.redraw(index, 1), "index {index}");
        // Colour jitter is at most 8 per channel around the named colour.
        assert!(linf(a.fill, original.attributes.color.rgb()) <= 8);
        assert!(linf(a.background, original.attributes.background.rgb()) <= 8);
        differ += usize::from(domain.render_layout(&a).as_raw() != domain.render(index).as_raw());
    }
    assert_eq!(differ, 32);
}

#[test]
fn different_seeds_differ() {
    let a = ShapesDomain::new(32, 0);
    let b = ShapesDomain::new(32, 1);
    let mut same_caption = 0;
    for index in 0..64 {
        assert_ne!(
            a.render(index).as_raw(),
            b.render(index).as_raw(),
            "index {index}"
        );
        same_caption += usize::from(a.caption(index) == b.caption(index));
    }
    // 6048 attribute combinations: a coincidence or two at most.
    assert!(same_caption <= 2, "{same_caption} identical captions");
}

#[test]
fn captions_round_trip_and_cover_every_attribute() {
    let domain = ShapesDomain::new(64, 3);
    let mut kinds = BTreeMap::new();
    let mut colors = BTreeMap::new();
    let mut backgrounds = BTreeSet::new();
    let mut sizes = BTreeSet::new();
    let mut positions = BTreeSet::new();
    let n = 3000;
    for index in 0..n {
        let attrs = domain.attributes(index);
        let caption = attrs.caption();
        assert_eq!(
            ShapeAttributes::from_caption(&caption),
            Ok(attrs),
            "{caption}"
        );
        assert_eq!(caption.parse::<ShapeAttributes>(), Ok(attrs));
        assert_eq!(attrs.to_string(), caption);
        assert_ne!(attrs.color, attrs.background, "{caption}");
        *kinds.entry(attrs.kind).or_insert(0usize) += 1;
        *colors.entry(attrs.color).or_insert(0usize) += 1;
        backgrounds.insert(attrs.background);
        sizes.insert(attrs.size);
        positions.insert(attrs.position);
    }
    assert_eq!(kinds.len(), ShapeKind::ALL.len());
    assert_eq!(colors.len(), ShapeColor::ALL.len());
    assert_eq!(backgrounds.len(), ShapeColor::ALL.len());
    assert_eq!(sizes.len(), 2);
    assert_eq!(positions.len(), 9);
    // Uniform draws: every kind within ±25% of n/6.
    for (k, c) in &kinds {
        let expected = n as f64 / 6.0;
        assert!((*c as f64 - expected).abs() < 0.25 * expected, "{k:?}: {c}");
    }
}

#[test]
fn every_attribute_combination_has_a_parseable_caption() {
    for kind in ShapeKind::ALL {
        for color in ShapeColor::ALL {
            for background in ShapeColor::ALL {
                for size in ShapeSize::ALL {
                    for position in Position::ALL {
                        let a = ShapeAttributes {
                            kind,
                            color,
                            size,
                            position,
                            background,
                        };
                        assert_eq!(ShapeAttributes::from_caption(&a.caption()), Ok(a));
                    }
                }
            }
        }
    }
}

#[test]
fn caption_parser_examples_and_errors() {
    let a =
        ShapeAttributes::from_caption("a large red circle on a blue background at the top left")
            .unwrap();
    assert_eq!(
        a.caption(),
        "a large red circle on a blue background at the top left"
    );
    let orange = ShapeAttributes {
        background: ShapeColor::Orange,
        ..a
    };
    assert_eq!(
        orange.caption(),
        "a large red circle on an orange background at the top left"
    );
    // "a"/"an" are not told apart when parsing.
    assert_eq!(
        ShapeAttributes::from_caption("a large red circle on a orange background at the top left"),
        Ok(orange)
    );
    assert_eq!(
        a,
        ShapeAttributes {
            kind: ShapeKind::Circle,
            color: ShapeColor::Red,
            size: ShapeSize::Large,
            position: Position { row: 0, col: 0 },
            background: ShapeColor::Blue,
        }
    );
    // Case and whitespace do not matter.
    assert_eq!(
        ShapeAttributes::from_caption(
            "  A Large RED circle on a  blue background\tat the top left "
        ),
        Ok(a)
    );
    let center =
        ShapeAttributes::from_caption("a small black ring on a white background in the center")
            .unwrap();
    assert_eq!(center.position, Position { row: 1, col: 1 });
    assert_eq!(center.kind, ShapeKind::Ring);

    let e = ShapeAttributes::from_caption("a large red hexagon on a blue background at the top")
        .unwrap_err();
    assert!(e.to_string().contains("unknown shape \"hexagon\""), "{e}");
    let e = ShapeAttributes::from_caption("a huge red circle on a blue background at the top")
        .unwrap_err();
    assert!(e.to_string().contains("unknown size \"huge\""), "{e}");
    let e = ShapeAttributes::from_caption("a large red circle on a blue background somewhere")
        .unwrap_err();
    assert!(
        e.to_string().contains("unknown position \"somewhere\""),
        "{e}"
    );
    let e = ShapeAttributes::from_caption("a large red circle on a teal background at the top")
        .unwrap_err();
    assert!(
        e.to_string().contains("unknown background colour \"teal\""),
        "{e}"
    );
    let e = ShapeAttributes::from_caption("a large red circle").unwrap_err();
    assert!(
        e.to_string().contains("4 words, expected at least 9"),
        "{e}"
    );
    let e = ShapeAttributes::from_caption("a large red circle in a blue background at the top")
        .unwrap_err();
    assert!(
        e.to_string().contains("word 5 is \"in\", expected \"on\""),
        "{e}"
    );
}

#[test]
fn splits_are_disjoint_and_unlimited() {
    for k in [0u64, 1, 2, 1000, u64::MAX / 2 - 1] {
        let (t, h) = (Split::Train.index(k), Split::Heldout.index(k));
        assert_eq!(Split::of(t), Split::Train);
        assert_eq!(Split::of(h), Split::Heldout);
        assert_ne!(t, h);
    }
    let domain = ShapesDomain::new(16, 5);
    let train = domain.dataset(Split::Train, 500);
    let heldout = domain.dataset(Split::Heldout, 500);
    let t: BTreeSet<u64> = (0..train.len()).map(|k| train.sample_index(k)).collect();
    let h: BTreeSet<u64> = (0..heldout.len())
        .map(|k| heldout.sample_index(k))
        .collect();
    assert_eq!((t.len(), h.len()), (500, 500));
    assert!(t.is_disjoint(&h));
    // Names (the sample identity) are disjoint too.
    let names = |ds: &adt_data::ShapesDataset| -> BTreeSet<String> {
        (0..20).map(|k| ds.get(k).unwrap().name).collect()
    };
    assert!(names(&train).is_disjoint(&names(&heldout)));
    // A longer view extends a shorter one.
    let long = domain.dataset(Split::Train, 5000);
    assert_eq!(long.get(7).unwrap().image, train.get(7).unwrap().image);
    assert_eq!(long.attributes(4999), domain.attributes(9998));
}

#[test]
fn the_shape_colour_dominates_its_cell() {
    let domain = ShapesDomain::new(64, 11);
    for index in 0..300 {
        let s = domain.sample(index);
        let a = s.attributes();
        let (x0, y0, x1, y1) = a.position.cell(64);
        let (mut in_fill, mut in_total, mut out_fill, mut out_total) = (0, 0, 0, 0);
        let (mut blends, mut out_bg) = (0, 0);
        for (x, y, p) in s.image.enumerate_pixels() {
            let (to_fill, to_bg) = (linf(p.0, s.layout.fill), linf(p.0, s.layout.background));
            // At least half covered by the shape.
            let fill_side = to_fill < to_bg;
            // The background light varies by ±8% (≤ 20 levels).
            let pure_bg = to_bg <= 20;
            blends += usize::from(to_fill > 2 && !pure_bg);
            if (x0..x1).contains(&x) && (y0..y1).contains(&y) {
                in_total += 1;
                in_fill += usize::from(fill_side);
            } else {
                out_total += 1;
                out_fill += usize::from(fill_side);
                out_bg += usize::from(pure_bg);
            }
        }
        let inside = in_fill as f64 / in_total as f64;
        let outside = out_fill as f64 / out_total as f64;
        let min_inside = match a.size {
            ShapeSize::Small => 0.10,
            ShapeSize::Large => 0.25,
        };
        let cap = &s.caption;
        assert!(
            inside >= min_inside,
            "{index} {cap}: {inside:.3} of its cell"
        );
        assert!(
            outside <= 0.02,
            "{index} {cap}: {outside:.3} outside its cell"
        );
        assert!(
            out_bg as f64 >= 0.95 * out_total as f64,
            "{index} {cap}: background {out_bg}/{out_total}"
        );
        // Antialiased edges: some pixels are blends of the two colours.
        assert!(blends > 0, "{index} {cap}: no antialiased pixels");
        // And the named colours classify the nominal fill and background.
        assert_eq!(ShapeColor::nearest(s.layout.fill), a.color, "{cap}");
        assert_eq!(
            ShapeColor::nearest(s.layout.background),
            a.background,
            "{cap}"
        );
    }
}

#[test]
fn dataset_items_batch_like_the_file_datasets() {
    let domain = ShapesDomain::new(32, 2);
    let ds = domain.dataset(Split::Heldout, 10);
    assert_eq!(ds.len(), 10);
    let items: Vec<_> = (0..4).map(|k| ds.get(k).unwrap()).collect();
    for (k, item) in items.iter().enumerate() {
        assert_eq!((item.index, item.requested_index), (k, k));
        assert_eq!(item.caption, ds.attributes(k).caption());
        assert_eq!(item.name, format!("shapes/seed-2/{}", 2 * k + 1));
        assert_eq!((item.image.height, item.image.width), (32, 32));
        assert_eq!(item.image.data.len(), 3 * 32 * 32);
        assert!(item.image.data.iter().all(|v| (-1.0..=1.0).contains(v)));
        assert_eq!(item.applied.original_size, (32, 32));
        // The tensor is the image: channel-major, v / 127.5 - 1.
        let img = domain.render(ds.sample_index(k));
        let p = img.get_pixel(5, 9);
        for c in 0..3 {
            let got = item.image.data[c * 1024 + 9 * 32 + 5];
            assert!((got - (p[c] as f32 / 127.5 - 1.0)).abs() < 1e-6);
        }
    }
    let batch = ImageCaptionBatcher.batch(items, &Device::flex());
    assert_eq!(batch.pixels.dims(), [4, 3, 32, 32]);
    assert_eq!(batch.captions.len(), 4);
    assert_eq!(batch.indices, vec![0, 1, 2, 3]);
}

/// Builds a 4×4 grid of samples; with `ADT_SHAPES_GRID=/path/grid.png` it is
/// written there to look at.
#[test]
fn sample_grid() {
    let domain = ShapesDomain::new(64, 0);
    let mut grid = RgbImage::new(4 * 64, 4 * 64);
    for k in 0..16u32 {
        let s = domain.sample(Split::Train.index(k as u64));
        grid.copy_from(&s.image, (k % 4) * 64, (k / 4) * 64)
            .unwrap();
        if std::env::var_os("ADT_SHAPES_GRID").is_some() {
            println!("{:2}: {}", k, s.caption);
        }
    }
    if let Some(path) = std::env::var_os("ADT_SHAPES_GRID") {
        grid.save(&path).unwrap();
        println!("wrote {}", std::path::Path::new(&path).display());
    }
}

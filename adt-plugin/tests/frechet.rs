//! Fréchet distance against scipy / pytorch-fid and a 40-digit reference
//! (`tests/fixtures/frechet.json`, written by `scripts/fixtures/frechet.py`).

use std::collections::BTreeMap;

use adt_plugin::eval::{
    FeatureAccumulator, FeatureStats, FrechetError, frechet_distance, frechet_distance_parts,
};
use serde::Deserialize;

/// Relative error allowed against pytorch-fid's value (scipy `sqrtm`), every case.
/// scipy's own error is the larger part of it (1.8e-7 on `near_identical`, where
/// FD ≈ 2e-4 is the difference of terms ≈ 32; see the module docs).
const REL_SCIPY: f64 = 1e-6;
/// Relative error allowed against the 40-digit reference on full-rank cases.
const REL_EXACT: f64 = 1e-12;
/// … on `near_identical`: the result is a difference of terms ~1.5e5 times
/// larger than itself, so an f64 rounding error of the traces (~1e-15 · 32)
/// alone is ~1.5e-10 relative; numpy's version of the same method is at 3.6e-11.
const REL_EXACT_NEAR_IDENTICAL: f64 = 1e-9;
/// … on `rank_deficient` (n < d): the covariances' zero eigenvalues come out as
/// ±1e-16·λmax; the positive ones enter the factors as √(1e-16·λmax) ≈ 2e-8 and
/// move the nuclear norm by ~1e-9 relative (numpy's version: 1.4e-9).
const REL_EXACT_RANK_DEFICIENT: f64 = 1e-8;

#[derive(Deserialize)]
struct Fixture {
    cases: BTreeMap<String, Case>,
}

#[derive(Deserialize)]
struct Case {
    d: usize,
    a: Vec<Vec<f64>>,
    b: Vec<Vec<f64>>,
    fd_scipy: f64,
    fd_exact: f64,
    fd_svd: f64,
    mean_sq_diff: f64,
    trace_a: f64,
    trace_b: f64,
    trace_sqrtm_scipy: f64,
    sqrtm_retried: bool,
    mean_a: Option<Vec<f64>>,
    cov_a: Option<Vec<f64>>,
}

fn fixture() -> Fixture {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/frechet.json");
    let text = std::fs::read_to_string(path).expect("read frechet.json");
    serde_json::from_str(&text).expect("parse frechet.json")
}

fn rel(got: f64, want: f64) -> f64 {
    (got - want).abs() / want.abs()
}

fn exact_tolerance(name: &str) -> f64 {
    match name {
        "near_identical" => REL_EXACT_NEAR_IDENTICAL,
        "rank_deficient" => REL_EXACT_RANK_DEFICIENT,
        _ => REL_EXACT,
    }
}

#[test]
fn matches_scipy_and_exact_reference() {
    let fx = fixture();
    assert_eq!(fx.cases.len(), 5);
    for (name, c) in &fx.cases {
        let a = FeatureStats::from_rows(&c.a).unwrap();
        let b = FeatureStats::from_rows(&c.b).unwrap();
        assert_eq!((a.dim(), b.dim()), (c.d, c.d), "{name}");
        assert_eq!((a.n, b.n), (c.a.len(), c.b.len()), "{name}");
        assert!(!c.sqrtm_retried, "{name}: fixture needed the eps retry");
        let parts = frechet_distance_parts(&a, &b).unwrap();
        assert_eq!(parts.eps_offset, None, "{name}");
        let fd = parts.distance();
        let (e_scipy, e_exact, e_numpy) =
            (rel(fd, c.fd_scipy), rel(fd, c.fd_exact), rel(fd, c.fd_svd));
        eprintln!(
            "{name:15} d={:3} fd={fd:.15e} rel.err vs scipy {e_scipy:.2e}, vs 40-digit {e_exact:.2e}, vs numpy (same method) {e_numpy:.2e}; scipy vs 40-digit {:.2e}",
            c.d,
            rel(c.fd_scipy, c.fd_exact)
        );
        assert!(e_scipy <= REL_SCIPY, "{name}: {fd} vs scipy {}", c.fd_scipy);
        assert!(
            e_exact <= exact_tolerance(name),
            "{name}: {fd} vs exact {}",
            c.fd_exact
        );
        // The parts themselves.
        assert!(rel(parts.mean_sq_diff, c.mean_sq_diff) <= 1e-12, "{name}");
        assert!(rel(parts.trace_a, c.trace_a) <= 1e-12, "{name}");
        assert!(rel(parts.trace_b, c.trace_b) <= 1e-12, "{name}");
        assert!(
            rel(parts.trace_sqrt_product, c.trace_sqrtm_scipy) <= 1e-7,
            "{name}: tr sqrtm {} vs scipy {}",
            parts.trace_sqrt_product,
            c.trace_sqrtm_scipy
        );
    }
}

#[test]
fn stats_match_numpy_cov() {
    let fx = fixture();
    let c = &fx.cases["d8"];
    let s = FeatureStats::from_rows(&c.a).unwrap();
    let (mean, cov) = (c.mean_a.as_ref().unwrap(), c.cov_a.as_ref().unwrap());
    let scale = cov.iter().fold(0f64, |m, v| m.max(v.abs()));
    for (g, w) in s.mean.iter().zip(mean) {
        assert!((g - w).abs() <= 1e-13, "mean {g} vs {w}");
    }
    assert_eq!(s.cov.len(), 64);
    for (g, w) in s.cov.iter().zip(cov) {
        assert!((g - w).abs() <= 1e-13 * scale, "cov {g} vs {w}");
    }
    // Exactly symmetric.
    for i in 0..8 {
        for j in 0..8 {
            assert_eq!(s.cov[i * 8 + j], s.cov[j * 8 + i]);
        }
    }
}

#[test]
fn self_distance_is_zero_and_distance_is_symmetric() {
    let fx = fixture();
    for (name, c) in &fx.cases {
        let a = FeatureStats::from_rows(&c.a).unwrap();
        let b = FeatureStats::from_rows(&c.b).unwrap();
        for s in [&a, &b] {
            let fd = frechet_distance(s, s).unwrap();
            eprintln!("{name:15} FD(x, x) = {fd:.2e} (tr Σ = {:.3})", s.trace());
            assert!(
                (0.0..=1e-12 * s.trace()).contains(&fd),
                "{name}: FD(x, x) = {fd}"
            );
        }
        let ab = frechet_distance(&a, &b).unwrap();
        let ba = frechet_distance(&b, &a).unwrap();
        eprintln!("{name:15} |FD(a,b) - FD(b,a)| / FD = {:.2e}", rel(ba, ab));
        assert!(rel(ba, ab) <= exact_tolerance(name), "{name}: {ab} vs {ba}");
    }
}

#[test]
fn accumulator_batches_and_merge_match_two_pass() {
    let fx = fixture();
    for (name, c) in &fx.cases {
        let whole = FeatureStats::from_rows(&c.a).unwrap();
        let mut acc = FeatureAccumulator::new(c.d);
        for chunk in c.a.chunks(7) {
            acc.push_rows(chunk).unwrap();
        }
        let mut left = FeatureAccumulator::new(c.d);
        let mut right = FeatureAccumulator::new(c.d);
        let (x, y) = c.a.split_at(c.a.len() / 3);
        for row in x {
            left.push_row(row).unwrap();
        }
        right
            .push_flat(&y.iter().flatten().copied().collect::<Vec<_>>())
            .unwrap();
        left.merge(&right).unwrap();
        for s in [acc.stats().unwrap(), left.stats().unwrap()] {
            assert_eq!(s.n, whole.n);
            let scale = whole.cov.iter().fold(0f64, |m, v| m.max(v.abs()));
            let mscale = whole.mean.iter().fold(1f64, |m, v| m.max(v.abs()));
            for (g, w) in s.mean.iter().zip(&whole.mean) {
                assert!((g - w).abs() <= 1e-13 * mscale, "{name}: mean {g} vs {w}");
            }
            for (g, w) in s.cov.iter().zip(&whole.cov) {
                assert!((g - w).abs() <= 1e-12 * scale, "{name}: cov {g} vs {w}");
            }
        }
    }
}

#[test]
fn f32_features_are_accumulated_in_f64() {
    let fx = fixture();
    let c = &fx.cases["d64"];
    let a32: Vec<Vec<f32>> =
        c.a.iter()
            .map(|r| r.iter().map(|&v| v as f32).collect())
            .collect();
    let b32: Vec<Vec<f32>> =
        c.b.iter()
            .map(|r| r.iter().map(|&v| v as f32).collect())
            .collect();
    let a = FeatureStats::from_rows(&a32).unwrap();
    let b = FeatureStats::from_rows(&b32).unwrap();
    // Only the f32 rounding of the 3-decimal inputs (≤ 3e-8 relative) differs.
    let fd = frechet_distance(&a, &b).unwrap();
    assert!(rel(fd, c.fd_exact) <= 1e-6, "{fd} vs {}", c.fd_exact);
    let flat: Vec<f32> = a32.iter().flatten().copied().collect();
    assert_eq!(FeatureStats::from_flat(&flat, 64).unwrap(), a);
}

#[test]
fn shifting_both_sets_changes_nothing() {
    let fx = fixture();
    let c = &fx.cases["d8"];
    let shift = |rows: &[Vec<f64>]| -> Vec<Vec<f64>> {
        rows.iter()
            .map(|r| {
                r.iter()
                    .enumerate()
                    .map(|(j, v)| v + 100.0 * j as f64)
                    .collect()
            })
            .collect()
    };
    let fd = frechet_distance(
        &FeatureStats::from_rows(&shift(&c.a)).unwrap(),
        &FeatureStats::from_rows(&shift(&c.b)).unwrap(),
    )
    .unwrap();
    assert!(rel(fd, c.fd_exact) <= 1e-10, "{fd} vs {}", c.fd_exact);
}

#[test]
fn errors_name_what_is_wrong() {
    let fx = fixture();
    let d8 = FeatureStats::from_rows(&fx.cases["d8"].a).unwrap();
    let d64 = FeatureStats::from_rows(&fx.cases["d64"].a).unwrap();

    let e = frechet_distance(&d8, &d64).unwrap_err();
    assert_eq!(
        e,
        FrechetError::DimMismatch {
            first: 8,
            second: 64
        }
    );
    assert!(
        e.to_string().contains("first set has 8, the second 64"),
        "{e}"
    );

    let none: [[f32; 3]; 0] = [];
    assert_eq!(
        FeatureStats::from_rows(&none).unwrap_err(),
        FrechetError::TooFewRows { rows: 0 }
    );
    let e = FeatureStats::from_rows(&[[1.0f32, 2.0]]).unwrap_err();
    assert_eq!(e, FrechetError::TooFewRows { rows: 1 });
    assert!(e.to_string().contains("at least 2 feature rows"), "{e}");
    assert_eq!(
        FeatureStats::from_flat(&[1.0f32, 2.0, 3.0], 3).unwrap_err(),
        FrechetError::TooFewRows { rows: 1 }
    );
    assert_eq!(
        FeatureAccumulator::new(4).stats().unwrap_err(),
        FrechetError::TooFewRows { rows: 0 }
    );

    let ragged = vec![vec![1.0f64, 2.0], vec![3.0, 4.0], vec![5.0]];
    let e = FeatureStats::from_rows(&ragged).unwrap_err();
    assert_eq!(
        e,
        FrechetError::RaggedRow {
            row: 2,
            expected: 2,
            found: 1
        }
    );
    assert!(
        e.to_string().contains("row 2 has 1 values, expected 2"),
        "{e}"
    );

    assert_eq!(
        FeatureStats::from_flat(&[1.0f32; 7], 3).unwrap_err(),
        FrechetError::FlatLength { len: 7, dim: 3 }
    );
    assert_eq!(
        FeatureStats::from_flat(&[1.0f32; 4], 0).unwrap_err(),
        FrechetError::ZeroDim
    );
    let empty_rows: Vec<Vec<f32>> = vec![vec![], vec![]];
    assert_eq!(
        FeatureStats::from_rows(&empty_rows).unwrap_err(),
        FrechetError::ZeroDim
    );

    let e = FeatureStats::from_flat(&[1.0f32, 2.0, 3.0, f32::NAN, 5.0, 6.0], 2).unwrap_err();
    assert!(
        matches!(e, FrechetError::NonFiniteFeature { row: 1, col: 1, value } if value.is_nan()),
        "{e:?}"
    );

    // Hand-built statistics are checked too, naming the argument.
    let mut bad = d8.clone();
    bad.cov.pop();
    let e = frechet_distance(&d8, &bad).unwrap_err();
    assert!(
        matches!(&e, FrechetError::InvalidStats { which: "second", message } if message.contains("63 values")),
        "{e:?}"
    );
    let mut bad = d8.clone();
    bad.n = 1;
    let e = frechet_distance(&bad, &d8).unwrap_err();
    assert!(
        matches!(&e, FrechetError::InvalidStats { which: "first", .. }),
        "{e:?}"
    );
    let mut bad = d8.clone();
    bad.cov[9] = f64::INFINITY;
    let e = frechet_distance(&bad, &d8).unwrap_err();
    assert!(e.to_string().contains("cov[1][1] is not finite"), "{e}");

    let mut acc = FeatureAccumulator::new(8);
    assert_eq!(
        acc.merge(&FeatureAccumulator::new(3)).unwrap_err(),
        FrechetError::DimMismatch {
            first: 8,
            second: 3
        }
    );
}

#[test]
fn stats_round_trip_through_json() {
    let fx = fixture();
    let s = FeatureStats::from_rows(&fx.cases["d8"].b).unwrap();
    let text = serde_json::to_string(&s).unwrap();
    let back: FeatureStats = serde_json::from_str(&text).unwrap();
    assert_eq!((back.n, back.mean.len(), back.cov.len()), (s.n, 8, 64));
    // serde_json is built without `float_roundtrip` here, so its parser may
    // land one ulp away from the printed value.
    for (g, w) in back
        .mean
        .iter()
        .chain(&back.cov)
        .zip(s.mean.iter().chain(&s.cov))
    {
        assert!((g - w).abs() <= 4.0 * f64::EPSILON * w.abs(), "{g} vs {w}");
    }
}

#[test]
fn one_dimensional_closed_form() {
    // FD of 1-d Gaussians = (μa − μb)² + (σa − σb)².
    let a = FeatureStats::from_rows(&[[1.0f64], [3.0], [5.0]]).unwrap(); // μ 3, var 4
    let b = FeatureStats::from_rows(&[[0.0f64], [1.0]]).unwrap(); // μ 0.5, var 0.5
    let want = 2.5f64.powi(2) + (2.0 - 0.5f64.sqrt()).powi(2);
    let got = frechet_distance(&a, &b).unwrap();
    assert!((got - want).abs() <= 1e-12 * want, "{got} vs {want}");
}

#[test]
fn diagonal_covariances_closed_form() {
    // Commuting covariances: tr sqrt(ΣaΣb) = Σ sqrt(a_i b_i).
    let a = FeatureStats {
        mean: vec![0.0, 1.0, 2.0],
        cov: vec![4.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.25],
        n: 10,
    };
    let b = FeatureStats {
        mean: vec![1.0, 1.0, 0.0],
        cov: vec![1.0, 0.0, 0.0, 0.0, 9.0, 0.0, 0.0, 0.0, 0.0],
        n: 10,
    };
    let want = 1.0 + 4.0 + (2.0f64 - 1.0).powi(2) + (1.0f64 - 3.0).powi(2) + 0.25;
    let parts = frechet_distance_parts(&a, &b).unwrap();
    assert_eq!(parts.eps_offset, None);
    assert!((parts.distance() - want).abs() <= 1e-12 * want, "{parts:?}");
}

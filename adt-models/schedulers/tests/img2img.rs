//! The img2img start index: SD1.x's whole-step rule and SD3's fractional one.

use adt_schedulers::img2img::*;

#[test]
fn matches_pipeline_formula() {
    assert_eq!(start_index(50, 0.8, 1).unwrap(), 10);
    assert_eq!(start_index(10, 1.0, 1).unwrap(), 0);
    assert_eq!(start_index(10, 0.0, 1).unwrap(), 10);
    // 10 * 0.29 = 2.9 → int() = 2 → start 8.
    assert_eq!(start_index(10, 0.29, 1).unwrap(), 8);
    assert!(start_index(10, 1.5, 1).is_err());
}

#[test]
fn sd3_keeps_the_fractional_start() {
    // 5 · 0.55 = 2.75: SD1.x starts at 5 − int(2.75) = 3, SD3 at int(5 − 2.75) = 2.
    assert_eq!(start_index(5, 0.55, 1).unwrap(), 3);
    assert_eq!(start_index_fractional(5, 0.55, 1).unwrap(), 2);
    assert_eq!(start_index_fractional(10, 1.0, 1).unwrap(), 0);
    assert_eq!(start_index_fractional(10, 0.0, 1).unwrap(), 10);
    assert!(start_index_fractional(10, -0.1, 1).is_err());
}

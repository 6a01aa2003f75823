//! Timestep spacing as numpy computes it (round half to even, arange lengths).

use adt_schedulers::spacing::*;

#[test]
fn linspace_rounds_half_to_even() {
    // 999 / 6 = 166.5: numpy rounds to 166 (even), not 167.
    let t = ddpm_family_timesteps(TimestepSpacing::Linspace, 7, 1000, 0);
    assert_eq!(t, vec![999, 832, 666, 500, 333, 166, 0]);
}

#[test]
fn trailing_length_follows_numpy_arange() {
    // np.arange(1000, 0, -1000/61) has 62 elements (floating-point ceil).
    assert_eq!(
        ddpm_family_timesteps(TimestepSpacing::Trailing, 61, 1000, 0).len(),
        62
    );
    assert_eq!(
        ddpm_family_timesteps(TimestepSpacing::Trailing, 60, 1000, 0).len(),
        60
    );
}

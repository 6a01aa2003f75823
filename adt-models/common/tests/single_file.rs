//! fp8 E4M3 decoding as torch's `float8_e4m3fn`.

use adt_models_common::single_file::*;

#[test]
fn fp8_e4m3_decodes_like_torch() {
    // torch.tensor([...]).to(torch.float8_e4m3fn).view(torch.uint8) and back.
    for (bits, value) in [
        (0x00u8, 0.0f32),
        (0x38, 1.0),
        (0xb8, -1.0),
        (0x40, 2.0),
        (0x7e, 448.0),
        (0x01, 2f32.powi(-9)),
        (0x08, 2f32.powi(-6)),
        (0x3c, 1.5),
    ] {
        assert_eq!(f8_e4m3_to_f32(bits), value, "{bits:#04x}");
    }
    assert!(f8_e4m3_to_f32(0x7f).is_nan());
}

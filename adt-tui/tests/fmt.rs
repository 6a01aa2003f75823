//! Number, duration and byte formatting of the dashboard.

#[test]
fn formats() {
    assert_eq!(adt_tui::ui::fmt::value(f64::NAN), "NaN");
    assert_eq!(adt_tui::ui::fmt::value(0.123456), "0.1235");
    assert_eq!(adt_tui::ui::fmt::value(-12.345), "-12.35");
    assert_eq!(adt_tui::ui::fmt::value(1e-5), "1.00e-5");
    assert_eq!(adt_tui::ui::fmt::duration(456.0), "7m36s");
    assert_eq!(adt_tui::ui::fmt::duration(3720.0), "1h02m");
    assert_eq!(adt_tui::ui::fmt::bytes(2048), "2.0 KiB");
}

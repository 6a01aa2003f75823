//! adt-tui

//! adt-sd15

//! adt-clip

//! adt-dinov2

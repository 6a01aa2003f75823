//! adt-models-common

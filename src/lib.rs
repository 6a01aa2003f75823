//! adt facade

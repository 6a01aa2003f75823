//! adt-plugin

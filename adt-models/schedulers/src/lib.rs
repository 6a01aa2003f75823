//! adt-schedulers

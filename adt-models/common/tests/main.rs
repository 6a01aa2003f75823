//! The integration tests of this crate, in one test binary (one link instead of one per
//! file keeps the workspace build fast); each module is one former test file.

mod attention;
mod convert;
mod single_file;
mod source;
mod tensor_io;
mod weights;

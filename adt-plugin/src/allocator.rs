//! Host allocator settings for the CPU backend: call [`keep_freed_memory`] first thing in
//! `main` of a binary that trains or samples on `flex`.
//!
//! burn-flex allocates a fresh buffer for most op outputs. glibc's `malloc` serves blocks
//! above 128 KiB–32 MiB with `mmap` and trims freed heap tops back to the OS, so every op
//! of a training step page-faults its output in again: a third of a small UNet's training
//! step went to the kernel's page-fault handler (`docs/benchmarks.md`, "Where the CPU time
//! goes"). Keeping freed memory in the process makes later steps reuse it; the resident
//! set then stays at the step's peak instead of shrinking between steps.

/// Makes the C allocator keep freed memory for reuse: no `mmap` for large blocks, no
/// trimming (glibc on Linux; elsewhere nothing to do). Returns whether it changed anything.
/// Process-wide: call it from a binary's `main`, not from library code.
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes allocator parameters; it is safe to call at any
        // time, and both values are in their documented ranges.
        unsafe {
            libc::mallopt(libc::M_MMAP_MAX, 0) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

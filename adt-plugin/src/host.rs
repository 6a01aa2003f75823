//! Host (CPU) settings for a binary that trains or samples on `flex`: call
//! [`keep_freed_memory`] first thing in `main`, and run the work through [`run_in_pool`].
//!
//! - burn-flex allocates a fresh buffer for most op outputs. glibc's `malloc` serves blocks
//!   above 128 KiB–32 MiB with `mmap` and trims freed heap tops back to the OS, so every op
//!   of a training step page-faults its output in again: a third of a small UNet's training
//!   step went to the kernel's page-fault handler (`docs/benchmarks.md`, "Where the CPU
//!   time goes"). Keeping freed memory in the process makes later steps reuse it; the
//!   resident set then stays at the step's peak instead of shrinking between steps.
//! - burn-flex parallelises ops on rayon's global pool. Called from a thread outside the
//!   pool, every parallel op hands its work to the pool and puts the caller to sleep
//!   until it is done: on a small model, thousands of wake-ups per step. Run from a pool
//!   thread, the caller does its share of each op and the other threads steal the rest.

/// Makes the C allocator keep freed memory for reuse: no `mmap` for large blocks, no
/// trimming, one arena for every thread (glibc on Linux; elsewhere nothing to do). Returns
/// whether it changed anything. Process-wide: call it first in a binary's `main` (before
/// other threads allocate), not from library code.
///
/// One arena: the per-thread arenas glibc gives pool threads are mmapped heaps of at most
/// 64 MiB that it grows and shrinks as it goes, so a pool thread's large buffers would
/// page-fault in again whatever the settings above (a small UNet's training step: 0.8 s
/// with one arena, 1.6 s without, measured with the work on a pool thread).
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes allocator parameters; it is safe to call at any
        // time, and every value is in its documented range.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1) == 1
                && libc::mallopt(libc::M_MMAP_MAX, 0) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// Stack of each rayon pool thread: the work of `main` runs on one, so it gets a main
/// thread's stack rather than the 2 MiB default of spawned threads.
const POOL_STACK_BYTES: usize = 16 << 20;

/// Runs `work` on a thread of rayon's global pool (built here, one thread per core, with
/// [`POOL_STACK_BYTES`] of stack, unless something built it already) and returns its result.
pub fn run_in_pool<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    // An error means the global pool exists already; it is used as it is.
    let _ = rayon::ThreadPoolBuilder::new()
        .stack_size(POOL_STACK_BYTES)
        .build_global();
    rayon::scope(|_| work())
}

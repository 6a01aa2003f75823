//! Host (CPU) settings for a binary that trains or samples on `flex`: make [`Allocator`] the
//! global allocator, call [`keep_freed_memory`] first thing in `main`, and run the work
//! through [`run_in_pool`].
//!
//! - burn-flex allocates a fresh buffer for most op outputs, thousands per training step, from
//!   every pool thread at once when a step runs in shards ([`crate::shards`]). glibc's
//!   `malloc` with one arena serialises those threads on its lock (a sharded step of the
//!   quickstart's tiny UNet was slower than an unsharded one); with an arena per thread it
//!   maps and unmaps heaps as it goes. mimalloc gives each thread its own heap.
//! - Either allocator returns freed memory to the OS after a while, and every op of the next
//!   step then page-faults its output in again (a third of a small UNet's training step once
//!   went to the kernel's page-fault handler: `docs/benchmarks.md`, "Where the CPU time
//!   goes"). Keeping freed memory in the process makes later steps reuse it; the resident set
//!   then stays at the step's peak instead of shrinking between steps.
//! - burn-flex parallelises ops on rayon's global pool. Called from a thread outside the
//!   pool, every parallel op hands its work to the pool and puts the caller to sleep
//!   until it is done: on a small model, thousands of wake-ups per step. Run from a pool
//!   thread, the caller does its share of each op and the other threads steal the rest.

/// The global allocator for binaries that train or sample on `flex`:
/// `#[global_allocator] static ALLOCATOR: adt_plugin::host::Allocator = adt_plugin::host::Allocator;`
pub use mimalloc::MiMalloc as Allocator;

/// mimalloc's `mi_option_purge_delay` (`mimalloc.h`, `mi_option_e`; the `libmimalloc-sys`
/// bindings name no constant for it): milliseconds before freed memory goes back to the
/// OS, -1 for never.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Makes the allocators keep freed memory for reuse: [`Allocator`] never purges, and glibc's
/// `malloc` (which still serves C code, and every allocation of a binary that keeps it as
/// its global allocator) takes no `mmap` for large blocks, never trims, and keeps one arena
/// for every thread (on Linux with glibc). Returns whether glibc's settings took (`false`
/// elsewhere). Process-wide: call it first in a binary's `main` (before other threads
/// allocate), not from library code.
///
/// One glibc arena: the per-thread arenas glibc gives pool threads are mmapped heaps of at
/// most 64 MiB that it grows and shrinks as it goes, so a pool thread's large buffers would
/// page-fault in again whatever the settings above (a small UNet's training step: 0.8 s
/// with one arena, 1.6 s without, measured with the work on a pool thread).
pub fn keep_freed_memory() -> bool {
    // SAFETY: mi_option_set only changes an allocator parameter; -1 is its documented
    // "never" for the purge delay.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
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

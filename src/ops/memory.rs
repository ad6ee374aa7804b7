//! Allocator settings for a long-running service on a small appliance.
//!
//! glibc raises its mmap threshold each time a block it had allocated with `mmap` is freed (the "dynamic
//! threshold", up to 32 MiB). A password hash (argon2id works in 19 MiB) is such a block: after the first
//! one, later hashes and verifications come from the heap arenas instead, and their pages stay resident
//! once freed, one arena per thread that hashed. Measured with `smsgate bench`: about 20 MiB of a 60 MiB
//! service. A fixed threshold keeps large blocks on `mmap`, which returns them to the kernel on free.

/// Blocks of this size and larger are mapped directly (glibc's own starting value, `M_MMAP_THRESHOLD` in
/// mallopt(3)); setting it turns the dynamic adjustment off.
pub const MMAP_THRESHOLD: usize = 128 * 1024;

/// Applies [`MMAP_THRESHOLD`]. Call first thing in `main`, before other threads exist. Returns whether
/// the allocator took it (always false where the C library is not glibc).
pub fn tune_allocator() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let Ok(threshold) = libc::c_int::try_from(MMAP_THRESHOLD) else {
            return false;
        };
        // SAFETY: mallopt only changes parameters of glibc's allocator (it takes the allocator's own
        // lock); no memory is touched and no pointer is passed.
        unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, threshold) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn glibc_takes_the_threshold() {
        assert_eq!(
            super::tune_allocator(),
            cfg!(all(target_os = "linux", target_env = "gnu"))
        );
    }
}

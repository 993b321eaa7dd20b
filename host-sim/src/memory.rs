//! Buffers whose size comes from the command line (`--batch`, `--frames`): allocated only after
//! checking that the memory can be had, so an impossible size is a named error instead of an
//! abort in the allocator or the kernel's out-of-memory killer.

use anyhow::{anyhow, ensure, Result};

/// A vector of `len` default values, for `what` (a phrase naming the buffer and the flag that
/// sizes it, e.g. "the training arena (--batch 64)").
///
/// # Errors
/// If `len` values of `T` exceed the machine's physical memory (from `/proc/meminfo`, where
/// there is one) or the allocator refuses them; nothing is allocated then.
pub fn zeroed<T: Default + Clone>(len: usize, what: &str) -> Result<Vec<T>> {
    let gib = |bytes: f64| bytes / f64::from(1u32 << 30);
    let bytes = len as f64 * std::mem::size_of::<T>() as f64;
    // Linux overcommits: a reservation past RAM succeeds and the process is killed when the pages
    // are touched, so the physical size is checked first.
    if let Some(total) = physical_memory() {
        ensure!(
            bytes <= total as f64,
            "{what} needs {:.1} GiB, more than this machine's {:.1} GiB of memory",
            gib(bytes),
            gib(total as f64)
        );
    }
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| {
        anyhow!(
            "{what} needs {:.1} GiB, which cannot be allocated",
            gib(bytes)
        )
    })?;
    v.resize(len, T::default());
    Ok(v)
}

/// `MemTotal` of `/proc/meminfo` in bytes, `None` where there is no such file.
fn physical_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib = text
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse::<u64>()
        .ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impossible_sizes_are_named_errors_and_possible_ones_are_zeroed() {
        let msg = zeroed::<f32>(usize::MAX / 4, "the arena (--batch 9)")
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("the arena (--batch 9) needs "), "{msg}");
        assert!(msg.contains("GiB"), "{msg}");
        assert_eq!(zeroed::<f32>(5, "x").unwrap(), vec![0.0; 5]);
        assert_eq!(zeroed::<i8>(0, "x").unwrap(), Vec::<i8>::new());
    }
}

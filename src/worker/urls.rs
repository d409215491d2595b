//! Where a worker's libhdf5 reads a file named by a URL: h5fs's own
//! driver (src/h5/vfd.rs) over the remote client (src/remote).

use std::sync::OnceLock;

use crate::h5::vfd::RangeSource;
use crate::remote::{Remote, Settings};

/// The environment variable that brings a worker the mount's remote
/// settings (no secrets: the worker reads those as the daemon did).
pub const SETTINGS_ENV: &str = "H5FS_REMOTE";

struct Ranges(Remote);

impl RangeSource for Ranges {
    fn size(&self) -> u64 {
        self.0.size()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), String> {
        let end = offset
            .checked_add(buf.len() as u64)
            .ok_or("range past the largest address")?;
        self.0.read(offset..end, buf)
    }

    fn version(&self) -> u64 {
        self.0.version()
    }
}

/// This worker's remote settings.
pub fn settings() -> &'static Settings {
    static SETTINGS: OnceLock<Settings> = OnceLock::new();
    SETTINGS.get_or_init(|| {
        std::env::var(SETTINGS_ENV)
            .map(|s| Settings::decode(&s))
            .unwrap_or_default()
    })
}

/// The source for a URL libhdf5 is asked to open.
pub fn open(name: &str) -> Result<Box<dyn RangeSource>, String> {
    Ok(Box::new(Ranges(Remote::open(name, settings())?)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_metadata_cache_reads_the_blocks_cache_dir_keeps() {
        // Else libhdf5's block misses would never be found on disk.
        assert_eq!(crate::h5::vfd::BLOCK, crate::remote::BLOCK);
    }
}

//! One batch run per journal: an exclusive OS lock on `<journal>.lock`, held for the whole run.
//! The OS releases it when the process dies (even on `kill -9`), so a lock left by a dead run
//! is simply taken over; the file names the holder (pid, host, start time) for the message a
//! second run prints.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::CliError;

/// Held until dropped.
pub struct JobLock {
    _file: File,
}

fn lock_path(journal: &Path) -> PathBuf {
    let mut name = journal.file_name().unwrap_or_default().to_owned();
    name.push(".lock");
    journal.with_file_name(name)
}

fn host() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "this host".into())
}

impl JobLock {
    /// Takes the lock for `journal`, or fails at once (exit 2) naming the run that holds it.
    pub fn acquire(journal: &Path) -> Result<JobLock, CliError> {
        let path = lock_path(journal);
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(&path)
            .map_err(|e| CliError::io("create", &path, &e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(CliError::usage(format!(
                    "the journal {} is in use by another batch run ({})",
                    journal.display(),
                    if holder.is_empty() {
                        "holder unknown"
                    } else {
                        holder
                    }
                ))
                .with_hint(
                    "wait for it to finish, or give this run another --journal and --output",
                ));
            }
            Err(TryLockError::Error(e)) => return Err(CliError::io("lock", &path, &e)),
        }
        let me = format!(
            "pid {} on {}, since {} (Unix time)",
            std::process::id(),
            host(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        );
        let written = file
            .set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(me.as_bytes()))
            .and_then(|()| file.flush());
        written.map_err(|e| CliError::io("write", &path, &e))?;
        Ok(JobLock { _file: file })
    }
}

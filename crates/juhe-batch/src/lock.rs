//! The files a batch run creates, and the lock that makes it the only run on its journal.
//!
//! The lock is an exclusive OS lock on the journal file itself: it belongs to the file (its
//! inode), not to the path, so a second run that reaches the journal through a symbolic link,
//! a hard link or another spelling of the path meets the same lock. The OS releases it when the
//! process dies (even on `kill -9`). The holder writes who it is (pid, host, start time) into
//! the journal, where a refused run reads it for its message.
//!
//! Files are never written through a link someone planted: a new file is created with
//! `O_EXCL | O_NOFOLLOW` (0600), an existing one is opened with `O_NOFOLLOW` and checked —
//! a regular file, one link, owned by us, not readable or writable by anyone else.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::ErrorKind;
use std::path::Path;

use crate::error::Error;

/// Held until dropped.
pub(crate) struct JobLock {
    file: File,
}

/// The text a run writes into its journal to name itself.
pub(crate) fn holder() -> String {
    format!(
        "pid {} on {}, since {} (Unix time)",
        std::process::id(),
        host(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    )
}

fn host() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "this host".into())
}

/// What the run holding `journal` wrote about itself, read without disturbing it.
fn read_holder(journal: &Path) -> Option<String> {
    use rusqlite::{Connection, OpenFlags};
    let conn = Connection::open_with_flags(
        journal,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .ok()?;
    conn.busy_timeout(std::time::Duration::from_secs(1)).ok()?;
    conn.query_row("SELECT value FROM meta WHERE key = 'holder'", [], |r| {
        r.get::<_, String>(0)
    })
    .ok()
}

/// The pid holding the `flock` on `file`, from the kernel's table of locks (Linux).
fn lock_holder_pid(file: &File) -> Option<u32> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = file.metadata().ok()?;
        let (major, minor) = (rustix::fs::major(meta.dev()), rustix::fs::minor(meta.dev()));
        // `1: FLOCK  ADVISORY  WRITE 1234 08:01:56789 0 EOF`: device in hex, inode in decimal.
        let id = format!("{major:02x}:{minor:02x}:{}", meta.ino());
        let locks = std::fs::read_to_string("/proc/locks").ok()?;
        locks.lines().find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let at = fields.iter().position(|f| *f == id)?;
            (fields.get(1) == Some(&"FLOCK") && at > 0)
                .then(|| fields[at - 1].parse().ok())
                .flatten()
        })
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = file;
        None
    }
}

/// The message for a journal whose lock another run holds: who it is, from the kernel's lock
/// table, else from what it wrote into the journal (read through SQLite only when the path
/// is the journal's one name: SQLite must not make `-wal` files beside another link).
fn in_use(journal: &Path, file: &File) -> Error {
    let pid = lock_holder_pid(file);
    let single = file.metadata().is_ok_and(|m| {
        #[cfg(unix)]
        {
            std::os::unix::fs::MetadataExt::nlink(&m) == 1
        }
        #[cfg(not(unix))]
        {
            let _ = m;
            true
        }
    });
    let written = single.then(|| read_holder(journal)).flatten();
    let holder = match (pid, written) {
        (Some(pid), Some(text)) if text.starts_with(&format!("pid {pid} ")) => text,
        (Some(pid), _) => format!("pid {pid} on {}", host()),
        (None, Some(text)) => text,
        (None, None) => "holder unknown".into(),
    };
    Error::InUse {
        path: journal.to_owned(),
        holder,
    }
}

/// `open` with `O_NOFOLLOW` (a symbolic link at `path` fails with `ELOOP`) and `O_NONBLOCK` (a
/// FIFO planted there does not hang the run; no effect on a regular file).
fn options_nofollow(options: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    {
        use rustix::fs::OFlags;
        std::os::unix::fs::OpenOptionsExt::custom_flags(
            options,
            (OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC).bits() as i32,
        );
    }
    options
}

/// Creates `path` anew, 0600, failing if anything (a file, a link) is already there.
pub(crate) fn create_new_private(path: &Path, read: bool) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(read).write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options_nofollow(&mut options).open(path)
}

/// Opens an existing `path` for reading and writing without following a link.
pub(crate) fn open_existing(path: &Path) -> std::io::Result<File> {
    options_nofollow(OpenOptions::new().read(true).write(true)).open(path)
}

/// True when `e` says the last component of the path is a symbolic link (`O_NOFOLLOW`).
fn is_link_error(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error())
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

/// Our effective user id.
#[cfg(unix)]
fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// The owner of a file that is not ours (effective uid), if it is not.
pub(crate) fn foreign_owner(meta: &std::fs::Metadata) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        (meta.uid() != euid()).then_some(meta.uid())
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        None
    }
}

/// Why a file we are about to write into is not safe to use, if it is not: another user's, a
/// link, or open to others.
pub(crate) fn unsafe_reason(meta: &std::fs::Metadata, what: &str) -> Option<String> {
    if !meta.is_file() {
        return Some(format!("is not a regular file, so it is not a {what}"));
    }
    if let Some(uid) = foreign_owner(meta) {
        return Some(format!(
            "belongs to another user (uid {uid}), who could read or change it"
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if meta.nlink() != 1 {
            return Some(format!(
                "has {} names (hard links): writing it would change the other files too",
                meta.nlink()
            ));
        }
        if meta.mode() & 0o077 != 0 {
            return Some(format!(
                "is readable or writable by other users (mode {:o})",
                meta.mode() & 0o777
            ));
        }
    }
    None
}

impl JobLock {
    /// Creates (0600) or opens the journal file and takes its lock, or fails at once naming
    /// the run that holds it. An existing journal must be safe to write (see
    /// [`unsafe_reason`]): a planted or shared one is refused, never written through.
    pub(crate) fn acquire(journal: &Path) -> Result<JobLock, Error> {
        let file = match open_existing(journal) {
            Ok(file) => file,
            Err(e) if e.kind() == ErrorKind::NotFound => match create_new_private(journal, true) {
                Ok(file) => file,
                // Created by someone else in between: check that one like any existing file.
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    open_existing(journal).map_err(|e| open_error(journal, e))?
                }
                Err(e) => return Err(Error::file("create the journal", journal, e)),
            },
            Err(e) => return Err(open_error(journal, e)),
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(in_use(journal, &file)),
            Err(TryLockError::Error(e)) => return Err(Error::file("lock", journal, e)),
        }
        let meta = file
            .metadata()
            .map_err(|e| Error::file("inspect", journal, e))?;
        if let Some(why) = unsafe_reason(&meta, "journal") {
            return Err(refused(journal, &why));
        }
        // The SQLite files beside it are written with the journal's data too.
        for suffix in ["-wal", "-shm", "-journal"] {
            let mut name = journal.as_os_str().to_owned();
            name.push(suffix);
            let side = Path::new(&name);
            match std::fs::symlink_metadata(side) {
                Ok(meta) => {
                    if let Some(why) = unsafe_reason(&meta, "SQLite file") {
                        return Err(refused(side, &why));
                    }
                }
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(Error::file("inspect", side, e)),
            }
        }
        Ok(JobLock { file })
    }

    /// True when `path` (following links) is this lock's journal file.
    pub(crate) fn is_file_at(&self, path: &Path) -> bool {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            match (self.file.metadata(), std::fs::symlink_metadata(path)) {
                (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
                _ => false,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = path;
            true
        }
    }
}

/// A journal that cannot be opened as it is: a symbolic link is refused (after telling the
/// user if the file behind it is in use, the message a second run expects).
fn open_error(journal: &Path, e: std::io::Error) -> Error {
    if !is_link_error(&e) {
        return Error::file("open the journal", journal, e);
    }
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(
        &mut options,
        (rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::CLOEXEC).bits() as i32,
    );
    if let Ok(file) = options.open(journal)
        && file.metadata().is_ok_and(|m| m.is_file())
        && matches!(file.try_lock(), Err(TryLockError::WouldBlock))
    {
        return in_use(journal, &file);
    }
    refused(
        journal,
        "is a symbolic link: the journal is opened only as itself",
    )
}

fn refused(path: &Path, why: &str) -> Error {
    Error::Unsafe {
        path: path.to_owned(),
        reason: why.to_owned(),
    }
}

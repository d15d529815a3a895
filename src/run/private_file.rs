//! A file wsprobe leaves for the user while it runs (the self-signed
//! certificate a client passes to `--ca`). It goes in a private per-user
//! directory, is created exclusively and never through a link, and is removed
//! when its guard drops: on every way out of the server but a kill -9.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The file, removed on drop.
#[derive(Debug)]
pub struct PrivateFile {
    path: PathBuf,
}

impl PrivateFile {
    /// Writes `contents` to `name` in [`private_dir`], readable by us only.
    pub fn create(name: &str, contents: &[u8]) -> io::Result<PrivateFile> {
        Self::create_in(&private_dir()?, name, contents)
    }

    /// Writes `contents` to `name` in `dir` (which must already be private).
    pub fn create_in(dir: &Path, name: &str, contents: &[u8]) -> io::Result<PrivateFile> {
        let path = dir.join(name);
        let mut file = match open_new(&path) {
            // Left by an earlier run that was killed: the directory is ours, so
            // the name is too. Unlinking does not follow a link.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                fs::remove_file(&path)?;
                open_new(&path)?
            }
            other => other?,
        };
        // From here on the file exists: the guard removes it whatever happens.
        let guard = PrivateFile { path };
        file.write_all(contents)?;
        file.sync_all()?;
        Ok(guard)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PrivateFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Creates a file that did not exist, mode 0600, refusing to open a link.
fn open_new(path: &Path) -> io::Result<fs::File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path)
}

/// `$XDG_RUNTIME_DIR/wsprobe` when that is set, else `wsprobe-UID` in the temp
/// directory: created with mode 0700 if missing, and refused when it is a link
/// or someone else's. One that is ours but open to others is closed to 0700.
pub fn private_dir() -> io::Result<PathBuf> {
    let dir = match std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
        Some(runtime) if runtime.is_absolute() => runtime.join("wsprobe"),
        _ => std::env::temp_dir().join(format!("wsprobe-{}", user_id())),
    };
    make_private_dir(&dir)?;
    Ok(dir)
}

#[cfg(unix)]
fn user_id() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

#[cfg(not(unix))]
fn user_id() -> String {
    std::env::var("USERNAME").unwrap_or_else(|_| "user".into())
}

#[cfg(unix)]
fn make_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let refuse = |why: String| {
        io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "refusing to use {}: {why} (remove it, or set XDG_RUNTIME_DIR to a private directory)",
                dir.display()
            ),
        )
    };
    // lstat: a link is refused, never followed.
    let meta = fs::symlink_metadata(dir)?;
    if meta.file_type().is_symlink() {
        return Err(refuse("it is a symbolic link".into()));
    }
    if !meta.is_dir() {
        return Err(refuse("it is not a directory".into()));
    }
    if meta.uid() != user_id() {
        return Err(refuse(format!("it belongs to user id {}", meta.uid())));
    }
    if meta.mode() & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn make_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "wsprobe-private-test-{}-{name}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir(&d).unwrap();
        d
    }

    #[test]
    fn the_file_is_ours_only_and_goes_with_its_guard() {
        let base = scratch("guard");
        let dir = base.join("wsprobe");
        make_private_dir(&dir).unwrap();
        assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        let f = PrivateFile::create_in(&dir, "x.pem", b"cert").unwrap();
        let meta = fs::symlink_metadata(f.path()).unwrap();
        assert!(meta.is_file());
        assert_eq!(meta.mode() & 0o777, 0o600);
        assert_eq!(fs::read(f.path()).unwrap(), b"cert");
        let path = f.path().to_path_buf();
        drop(f);
        assert!(!path.exists());
        fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn links_are_never_followed() {
        let base = scratch("links");
        let victim = base.join("victim");
        fs::write(&victim, b"precious").unwrap();
        // A link where the directory would be: refused.
        let dir = base.join("wsprobe");
        std::os::unix::fs::symlink(&base, &dir).unwrap();
        let err = make_private_dir(&dir).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        fs::remove_file(&dir).unwrap();
        // A link where the file would be: replaced, the target untouched.
        make_private_dir(&dir).unwrap();
        std::os::unix::fs::symlink(&victim, dir.join("x.pem")).unwrap();
        let f = PrivateFile::create_in(&dir, "x.pem", b"cert").unwrap();
        assert!(fs::symlink_metadata(f.path()).unwrap().is_file());
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        drop(f);
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn a_directory_open_to_others_is_closed() {
        let base = scratch("open");
        let dir = base.join("wsprobe");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        make_private_dir(&dir).unwrap();
        assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        fs::remove_dir_all(&base).unwrap();
    }
}

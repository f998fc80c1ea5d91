//! The embedded registry: a directory every rmicro process on the machine shares, one
//! file per node at `<root>/<service>/<node id>.json` holding a go-micro record with that
//! one node (the etcd value layout). A record's expiry is its file's modification time,
//! set `ttl` into the future at each heartbeat; readers ignore expired records, so a
//! crashed server's node disappears within its TTL. Writes go to a temporary file that is
//! renamed over the record, so no reader ever sees half a record. Round-robin position
//! is a counter per service, advanced under `flock` so that separate `rmicro call`
//! processes take turns exactly.

use super::record::{group_by_version, Service};
use anyhow::{anyhow, Context};
use std::fs::{self, File};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Records expired longer than this are deleted by the next registration.
const SWEEP_AFTER: Duration = Duration::from_secs(60);

pub struct FileRegistry {
    root: PathBuf,
}

impl FileRegistry {
    pub fn new(root: PathBuf) -> FileRegistry {
        FileRegistry { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn service_dir(&self, name: &str) -> PathBuf {
        self.root.join(escape(name))
    }

    /// Writes (or refreshes) every node of `service`, each valid for `ttl`.
    pub fn register(&self, service: &Service, ttl: Duration) -> anyhow::Result<()> {
        let dir = self.service_dir(&service.name);
        fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create the registry directory {}", dir.display()))?;
        for node in &service.nodes {
            let record = Service {
                nodes: vec![node.clone()],
                ..service.clone()
            };
            let path = dir.join(format!("{}.json", escape(&node.id)));
            let temporary = dir.join(format!(".{}.{}.tmp", escape(&node.id), std::process::id()));
            let mut file = File::create(&temporary)
                .with_context(|| format!("cannot write {}", temporary.display()))?;
            file.write_all(&serde_json::to_vec(&record)?)?;
            file.set_modified(SystemTime::now() + ttl)?;
            drop(file);
            fs::rename(&temporary, &path)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        self.sweep(&dir);
        Ok(())
    }

    pub fn deregister(&self, service: &Service) -> anyhow::Result<()> {
        let dir = self.service_dir(&service.name);
        for node in &service.nodes {
            let path = dir.join(format!("{}.json", escape(&node.id)));
            match fs::remove_file(&path) {
                Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                    return Err(anyhow!("cannot remove {}: {error}", path.display()))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The live records of `name`, one service per version.
    pub fn get_service(&self, name: &str) -> anyhow::Result<Vec<Service>> {
        let records = self.read_dir(&self.service_dir(name))?;
        Ok(group_by_version(
            records.into_iter().filter(|record| record.name == name),
        ))
    }

    /// Every live service, one entry per name and version, sorted by name.
    pub fn list_services(&self) -> anyhow::Result<Vec<Service>> {
        let entries = match fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => {
                return Err(anyhow!(
                    "cannot read the registry {}: {error}",
                    self.root.display()
                ))
            }
        };
        let mut records = Vec::new();
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|kind| kind.is_dir()) && !is_hidden(&entry.path()) {
                records.extend(self.read_dir(&entry.path())?);
            }
        }
        Ok(group_by_version(records))
    }

    fn read_dir(&self, dir: &Path) -> anyhow::Result<Vec<Service>> {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(anyhow!("cannot read {}: {error}", dir.display())),
        };
        let now = SystemTime::now();
        let mut records = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if is_hidden(&path) || path.extension().is_none_or(|extension| extension != "json") {
                continue;
            }
            let live = entry
                .metadata()
                .and_then(|metadata| metadata.modified())
                .is_ok_and(|expires| expires > now);
            if !live {
                continue;
            }
            let parsed = fs::read(&path)
                .map_err(|error| error.to_string())
                .and_then(|bytes| {
                    serde_json::from_slice::<Service>(&bytes).map_err(|error| error.to_string())
                });
            match parsed {
                Ok(record) => records.push(record),
                Err(error) => {
                    tracing::warn!("ignoring the registry record {}: {error}", path.display())
                }
            }
        }
        Ok(records)
    }

    /// Removes records whose owners are long gone (best effort).
    fn sweep(&self, dir: &Path) {
        let Some(cutoff) = SystemTime::now().checked_sub(SWEEP_AFTER) else {
            return;
        };
        for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
            let expired = entry
                .metadata()
                .and_then(|metadata| metadata.modified())
                .is_ok_and(|expires| expires < cutoff);
            if expired && !is_hidden(&entry.path()) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    /// Returns the service's round-robin counter and advances it, under an exclusive
    /// lock shared with every other process.
    pub fn next_turn(&self, name: &str) -> anyhow::Result<u64> {
        let dir = self.service_dir(name);
        fs::create_dir_all(&dir)?;
        let path = dir.join(".roundrobin");
        let mut file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let _lock = Flock::exclusive(&file)?;
        let mut text = String::new();
        file.read_to_string(&mut text)?;
        let turn = text.trim().parse::<u64>().unwrap_or(0);
        file.rewind()?;
        file.set_len(0)?;
        file.write_all((turn + 1).to_string().as_bytes())?;
        Ok(turn)
    }
}

/// An exclusive `flock(2)`, released when dropped.
struct Flock(i32);

impl Flock {
    fn exclusive(file: &File) -> anyhow::Result<Flock> {
        let fd = file.as_raw_fd();
        // SAFETY: flock(2) on a descriptor we own for the lock's lifetime.
        if unsafe { libc::flock(fd, libc::LOCK_EX) } != 0 {
            return Err(anyhow!("flock: {}", std::io::Error::last_os_error()));
        }
        Ok(Flock(fd))
    }
}

impl Drop for Flock {
    fn drop(&mut self) {
        // SAFETY: unlocking the descriptor locked in `exclusive`, still open.
        unsafe {
            libc::flock(self.0, libc::LOCK_UN);
        }
    }
}

/// go-micro replaces `/` in key parts with `-`; a leading dot would hide the file.
fn escape(part: &str) -> String {
    part.replace('/', "-").trim_start_matches('.').to_owned()
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|name| name.to_string_lossy().starts_with('.'))
}

//! The state file: what the embedded registry saves, and how it reads it back.
//!
//! The file is JSON:
//!
//! ```json
//! {
//!   "format": "rookery-registry-state",
//!   "version": 1,
//!   "saved_at_ms": 1767225600000,
//!   "entries": [
//!     { "token": 4611686018427387904, "ttl_ms": 10000, "expires_at_ms": 1767225608000,
//!       "instance": { "name": "greeter", "version": "1.2.0", "id": "…",
//!                     "addresses": { "thrift": "127.0.0.1:9090" }, "…": "…" } }
//!   ]
//! }
//! ```
//!
//! Expiry times are wall-clock (milliseconds since the Unix epoch), because the monotonic
//! clock of one process means nothing to the next. On start, an entry whose expiry is still
//! ahead comes back with the time it has left (never more than its TTL, so a clock that jumped
//! back cannot make an entry live longer than one TTL); one whose expiry has passed is
//! dropped. Lease tokens are saved, so heartbeats made under a lease from before the restart
//! go on working.
//!
//! Saving never blocks the runtime: one writer task per file serialises a snapshot and writes
//! it in a blocking thread, to a temporary file in the same directory that is synced and then
//! renamed over the state file (so a crash leaves either the old file or the new one, never a
//! torn one). Changes of the registered set (registrations, removals, expiries) are saved at
//! once; changes made while a write runs are saved together by the next. Heartbeats only move
//! expiry times forward and are saved at most once per flush interval (1 s by default): a
//! crash loses at most that much of each entry's remaining TTL. An instance that heartbeats at
//! a third of its TTL has at least two thirds of it left at any moment, so it survives a
//! crash and restart that take less than two thirds of its TTL minus the flush interval, and
//! its next heartbeat renews it under the same lease.

use std::{
    collections::HashMap,
    fs, io,
    io::Write,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, OnceLock},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use serde::{Deserialize, Serialize};
use tokio::{sync::watch, time::Instant};
use tokio_util::sync::CancellationToken;

use super::{Entry, MAX_TTL, State};
use crate::{Instance, RegistryError};

/// What the file says it is.
const FORMAT: &str = "rookery-registry-state";
/// The version of the format this code writes and reads.
const VERSION: u64 = 1;

/// One entry as saved.
#[derive(Debug, Serialize, Deserialize)]
struct SavedEntry {
    token: i64,
    ttl_ms: u64,
    expires_at_ms: u64,
    instance: Instance,
}

/// The file as written.
#[derive(Debug, Serialize)]
struct SavedState<'a> {
    format: &'a str,
    version: u64,
    saved_at_ms: u64,
    entries: Vec<SavedEntry>,
}

/// The file as read: entries stay raw so that each one can be checked on its own.
#[derive(Debug, Deserialize)]
struct ReadState {
    format: String,
    version: u64,
    entries: Vec<serde_json::Value>,
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis().min(u64::MAX as u128) as u64)
}

/// Reads the state file. Never fails: a missing file is an empty registry; a file that cannot
/// be read or parsed is set aside (renamed to `FILE.corrupt`) and the registry starts empty;
/// entries that are malformed, duplicated or expired are left out; each with a logged reason.
pub(super) fn load(path: &Path) -> HashMap<String, Entry> {
    let text = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            tracing::info!(path = %path.display(), "no registry state file yet; starting empty");
            return HashMap::new();
        }
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read the registry state file; starting empty");
            return HashMap::new();
        }
    };
    let state: ReadState = match serde_json::from_slice(&text) {
        Ok(state) => state,
        Err(e) => {
            set_aside(path, &format!("it is not a registry state file: {e}"));
            return HashMap::new();
        }
    };
    if state.format != FORMAT || state.version != VERSION {
        set_aside(
            path,
            &format!(
                "it is {:?} version {}, this registry reads {FORMAT:?} version {VERSION}",
                state.format, state.version
            ),
        );
        return HashMap::new();
    }
    let now_ms = unix_ms(SystemTime::now());
    let now = Instant::now();
    let mut entries = HashMap::new();
    let (mut expired, mut skipped) = (0usize, 0usize);
    for (index, raw) in state.entries.into_iter().enumerate() {
        match restore(raw, now_ms, now) {
            Ok(Some(entry)) => {
                if entries.contains_key(&entry.instance.id) {
                    skipped += 1;
                    tracing::warn!(index, id = %entry.instance.id, "saved registry entry skipped: duplicate id");
                } else {
                    entries.insert(entry.instance.id.clone(), entry);
                }
            }
            Ok(None) => expired += 1,
            Err(reason) => {
                skipped += 1;
                tracing::warn!(index, %reason, "saved registry entry skipped");
            }
        }
    }
    tracing::info!(
        path = %path.display(),
        restored = entries.len(),
        expired,
        skipped,
        "registry state restored"
    );
    entries
}

/// One saved entry: `None` if it expired meanwhile, an error if it is malformed.
fn restore(raw: serde_json::Value, now_ms: u64, now: Instant) -> Result<Option<Entry>, String> {
    let id = raw
        .pointer("/instance/id")
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    // Name the field serde would not: a version that is not semver.
    if let Some(version) = raw.pointer("/instance/version").and_then(|v| v.as_str()) {
        if let Err(e) = version.parse::<semver::Version>() {
            return Err(format!(
                "instance {:?}: version {version:?}: {e}",
                id.unwrap_or_default()
            ));
        }
    }
    let saved: SavedEntry = serde_json::from_value(raw).map_err(|e| match &id {
        Some(id) => format!("instance {id:?}: {e}"),
        None => e.to_string(),
    })?;
    saved.instance.validate().map_err(|e| e.to_string())?;
    let ttl = Duration::from_millis(saved.ttl_ms);
    if ttl.is_zero() || ttl > MAX_TTL {
        return Err(format!(
            "instance {:?}: a TTL of {} ms is out of range",
            saved.instance.id, saved.ttl_ms
        ));
    }
    if saved.expires_at_ms <= now_ms {
        tracing::info!(id = %saved.instance.id, name = %saved.instance.name, "saved registration expired while the registry was down");
        return Ok(None);
    }
    let left = Duration::from_millis(saved.expires_at_ms - now_ms).min(ttl);
    Ok(Some(Entry {
        instance: saved.instance,
        token: saved.token,
        ttl,
        expires_at: now + left,
    }))
}

/// Moves an unreadable state file out of the way, so the next save does not destroy it.
fn set_aside(path: &Path, why: &str) {
    let mut aside = path.as_os_str().to_owned();
    aside.push(".corrupt");
    let aside = PathBuf::from(aside);
    match fs::rename(path, &aside) {
        Ok(()) => tracing::warn!(
            path = %path.display(),
            moved_to = %aside.display(),
            reason = why,
            "registry state file unusable; starting empty"
        ),
        Err(e) => tracing::warn!(
            path = %path.display(),
            reason = why,
            error = %e,
            "registry state file unusable (and could not be set aside); starting empty"
        ),
    }
}

/// Changes not yet saved, counted.
#[derive(Clone, Copy, Debug, Default)]
struct Requested {
    /// Bumped by every change.
    generation: u64,
    /// Changes up to this generation must be saved at once.
    urgent_through: u64,
}

/// What the writer has done.
#[derive(Clone, Debug, Default)]
struct Written {
    /// Every change up to this generation is on disk.
    generation: u64,
    /// The last attempt that failed, at which generation, and why.
    failed: Option<(u64, String)>,
}

/// The state file of one registry, and the writer task that keeps it up to date.
#[derive(Debug)]
pub(super) struct Store {
    path: PathBuf,
    flush_interval: Duration,
    state: Arc<Mutex<State>>,
    closed: CancellationToken,
    requested: watch::Sender<Requested>,
    written: watch::Sender<Written>,
    writer_started: OnceLock<()>,
}

impl Store {
    pub(super) fn new(
        path: PathBuf,
        flush_interval: Duration,
        state: Arc<Mutex<State>>,
        closed: CancellationToken,
    ) -> Store {
        Store {
            path,
            flush_interval,
            state,
            closed,
            requested: watch::channel(Requested::default()).0,
            written: watch::channel(Written::default()).0,
            writer_started: OnceLock::new(),
        }
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Records a change to save: at once if `urgent`, else within the flush interval.
    pub(super) fn note(self: &Arc<Self>, urgent: bool) {
        self.requested.send_modify(|r| {
            r.generation += 1;
            if urgent {
                r.urgent_through = r.generation;
            }
        });
        self.start_writer();
    }

    /// Saves every change made so far, now, and waits until it is on disk.
    pub(super) async fn flush(self: &Arc<Self>) -> Result<(), RegistryError> {
        let mut target = 0;
        self.requested.send_modify(|r| {
            r.urgent_through = r.generation;
            target = r.generation;
        });
        self.start_writer();
        let mut written = self.written.subscribe();
        let outcome = written
            .wait_for(|w| {
                w.generation >= target || w.failed.as_ref().is_some_and(|(g, _)| *g >= target)
            })
            .await
            .map(|w| w.clone())
            .map_err(|_| RegistryError::unavailable("the registry state writer stopped"))?;
        match outcome.failed {
            Some((_, why)) if outcome.generation < target => Err(RegistryError::unavailable(
                format!("saving {}: {why}", self.path.display()),
            )),
            _ => Ok(()),
        }
    }

    fn start_writer(self: &Arc<Self>) {
        if self.writer_started.set(()).is_ok() {
            tokio::spawn(write_loop(Arc::clone(self)));
        }
    }

    /// The state as it is now, and the generation of changes it includes.
    fn snapshot(&self) -> (u64, Vec<SavedEntry>) {
        // Read the generation first: every change counted in it was made before, so the
        // snapshot taken after includes it.
        let generation = self.requested.borrow().generation;
        let now = Instant::now();
        let now_ms = unix_ms(SystemTime::now());
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut entries: Vec<SavedEntry> = state
            .entries
            .values()
            .filter(|e| e.expires_at > now)
            .map(|e| SavedEntry {
                token: e.token,
                ttl_ms: e.ttl.as_millis().min(u64::MAX as u128) as u64,
                expires_at_ms: now_ms
                    .saturating_add((e.expires_at - now).as_millis().min(u64::MAX as u128) as u64),
                instance: e.instance.clone(),
            })
            .collect();
        drop(state);
        entries.sort_by(|a, b| a.instance.id.cmp(&b.instance.id));
        (generation, entries)
    }
}

/// Saves the state whenever it changed, until the registry is dropped (then once more, if
/// anything is left unsaved).
async fn write_loop(store: Arc<Store>) {
    let mut requested = store.requested.subscribe();
    let mut saved = store.written.borrow().generation;
    let mut last_save: Option<Instant> = None;
    let mut retry_at: Option<Instant> = None;
    let mut failures = 0u32;
    loop {
        let closing = store.closed.is_cancelled();
        let wanted = *requested.borrow_and_update();
        if wanted.generation <= saved {
            if closing {
                return;
            }
            tokio::select! {
                _ = store.closed.cancelled() => {}
                changed = requested.changed() => if changed.is_err() { return },
            }
            continue;
        }
        if !closing {
            let due = match retry_at {
                Some(at) => Some(at),
                None if wanted.urgent_through > saved => None,
                None => last_save.map(|at| at + store.flush_interval),
            };
            if let Some(due) = due.filter(|due| *due > Instant::now()) {
                tokio::select! {
                    _ = store.closed.cancelled() => {}
                    _ = tokio::time::sleep_until(due) => retry_at = None,
                    changed = requested.changed() => if changed.is_err() { return },
                }
                continue;
            }
        }
        let (generation, entries) = store.snapshot();
        let path = store.path.clone();
        let outcome = tokio::task::spawn_blocking(move || save(&path, entries))
            .await
            .unwrap_or_else(|e| Err(io::Error::other(format!("the writer thread failed: {e}"))));
        match outcome {
            Ok(()) => {
                saved = generation;
                failures = 0;
                retry_at = None;
                last_save = Some(Instant::now());
                store.written.send_modify(|w| {
                    w.generation = generation;
                    w.failed = None;
                });
            }
            Err(e) => {
                failures += 1;
                let delay = Duration::from_millis(100)
                    .saturating_mul(1 << failures.min(6))
                    .min(Duration::from_secs(5));
                retry_at = Some(Instant::now() + delay);
                tracing::warn!(path = %store.path.display(), error = %e, failures, retry_in = ?delay, "saving the registry state failed");
                store
                    .written
                    .send_modify(|w| w.failed = Some((generation, e.to_string())));
                if closing {
                    return;
                }
            }
        }
    }
}

/// Writes the state to a temporary file beside `path`, syncs it, and renames it over `path`.
fn save(path: &Path, entries: Vec<SavedEntry>) -> io::Result<()> {
    let state = SavedState {
        format: FORMAT,
        version: VERSION,
        saved_at_ms: unix_ms(SystemTime::now()),
        entries,
    };
    let bytes = serde_json::to_vec_pretty(&state).map_err(io::Error::other)?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::other(format!("{} names no file", path.display())))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);
    let written = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
        return written;
    }
    // Sync the directory too, so the rename itself survives a power loss.
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(id: &str, now_ms: u64, expires_in_ms: i64, ttl_ms: u64) -> serde_json::Value {
        let now = now_ms as i64;
        serde_json::json!({
            "token": 7,
            "ttl_ms": ttl_ms,
            "expires_at_ms": now + expires_in_ms,
            "instance": {
                "name": "s", "version": "1.0.0", "id": id,
                "addresses": { "thrift": "127.0.0.1:1" }
            }
        })
    }

    #[test]
    fn entries_come_back_with_the_time_they_have_left() {
        let now_ms = unix_ms(SystemTime::now());
        let now = Instant::now();
        let e = restore(raw("a", now_ms, 5_000, 10_000), now_ms, now)
            .unwrap()
            .unwrap();
        assert_eq!(e.token, 7);
        assert_eq!(e.ttl, Duration::from_secs(10));
        assert_eq!(e.expires_at - now, Duration::from_secs(5));
        // Never more than one TTL, whatever the clock says.
        let e = restore(raw("a", now_ms, 60_000, 10_000), now_ms, now)
            .unwrap()
            .unwrap();
        assert_eq!(e.expires_at - now, Duration::from_secs(10));
        assert!(
            restore(raw("a", now_ms, -1, 10_000), now_ms, now)
                .unwrap()
                .is_none()
        );
        assert!(restore(raw("a", now_ms, 5_000, 0), now_ms, now).is_err());
        let mut bad = raw("b", now_ms, 5_000, 10_000);
        bad["instance"]["version"] = "one".into();
        let why = restore(bad, now_ms, now).unwrap_err();
        assert!(why.contains("\"b\""), "{why}");
        let mut bad = raw("c", now_ms, 5_000, 10_000);
        bad["instance"]["addresses"] = serde_json::json!({});
        assert!(
            restore(bad, now_ms, now)
                .unwrap_err()
                .contains("no address")
        );
    }
}

//! [`EventWriter`]: one event file in a run directory, written in whole records.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use kernels::histogram::Histogram;
use prost::Message;

use super::proto::{event::What, session_log::SessionStatus, summary, Event, SessionLog, Summary};
use super::record::append_record;
use super::summary as values;

/// What the first record of every file says; TensorBoard's loaders switch on it.
pub const FILE_VERSION: &str = "brain.Event:2";
/// Every event file name starts with this (loaders look for `tfevents`).
pub const FILE_PREFIX: &str = "events.out.tfevents.";
/// Valence's suffix, after the pid, so its files are recognisable.
pub const FILE_SUFFIX: &str = ".valence";
/// Pending bytes past which a record is handed to the OS without waiting for [`EventWriter::flush`].
const SPILL_BYTES: usize = 1 << 20;

/// The system clock as seconds since the Unix epoch (0 if the clock is before 1970).
pub fn system_wall_time() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Writes one TensorBoard event file: `events.out.tfevents.<10-digit unix seconds>.<hostname>.
/// <pid>.valence` in a run directory.
///
/// Every event is framed as a whole record in memory and queued; queued records reach the file
/// in one `write_all` at [`flush`](Self::flush) (and whenever more than 1 MiB is queued). A
/// crash loses at most what was queued since the last write; a write torn by the crash ends the
/// file mid-record, and loaders keep everything before that record.
/// If a write fails midway, the file is cut back to its last whole record (best effort) and the
/// queue kept, so a later `flush` retries without leaving garbage between records.
/// Dropping the writer writes what is queued, without `sync_data` and ignoring errors: call
/// `flush` to know.
///
/// Steps are `u64` (a training step is never negative); TensorBoard stores them as `int64`.
#[derive(Debug)]
pub struct EventWriter {
    file: File,
    path: PathBuf,
    /// Whole records not yet handed to the OS.
    pending: Vec<u8>,
    /// Bytes of the file known to hold whole records.
    committed: u64,
    clock: fn() -> f64,
}

impl EventWriter {
    /// Creates `run_dir` (and its parents) and a new event file in it, and writes the file's first
    /// record, `Event{wall_time, file_version: "brain.Event:2"}`, flushed to disk.
    ///
    /// The file name's seconds are the clock's, or one more than the latest event file already in
    /// `run_dir` if that one is as recent: TensorBoard reads a run's files in name order, so a
    /// resumed run's file must sort after the one it continues even within the same second.
    ///
    /// # Errors
    /// Any error creating the directory or the file, or writing the first record (the file is
    /// removed then).
    pub fn create(run_dir: &Path) -> io::Result<Self> {
        Self::with_clock(run_dir, system_wall_time)
    }

    /// [`create`](Self::create) with `clock` (seconds since the Unix epoch) as the wall time of
    /// every event and of the file name: a fixed clock makes a file's bytes reproducible in tests.
    ///
    /// # Errors
    /// As [`create`](Self::create).
    pub fn with_clock(run_dir: &Path, clock: fn() -> f64) -> io::Result<Self> {
        std::fs::create_dir_all(run_dir)?;
        let now = clock();
        // A clock before 1970 or NaN gives 0; `as` saturates.
        let mut secs = if now > 0.0 { now as u64 } else { 0 };
        if let Some(latest) = latest_file_seconds(run_dir)? {
            secs = secs.max(latest.saturating_add(1));
        }
        let host = hostname();
        let pid = std::process::id();
        // create_new: never append to (or clobber) someone else's file; on a clash, a later second.
        let (file, path) = loop {
            let path = run_dir.join(format!("{FILE_PREFIX}{secs:010}.{host}.{pid}{FILE_SUFFIX}"));
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => break (file, path),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => secs += 1,
                Err(e) => return Err(e),
            }
        };
        let mut writer = Self {
            file,
            path,
            pending: Vec::new(),
            committed: 0,
            clock,
        };
        writer.write_event(Event {
            wall_time: now,
            step: 0,
            what: Some(What::FileVersion(FILE_VERSION.to_owned())),
        });
        if let Err(e) = writer.flush() {
            // A file without its version record is no event file: leave nothing behind (best
            // effort; the write error is the one worth reporting).
            writer.pending.clear();
            let _ = std::fs::remove_file(&writer.path);
            return Err(e);
        }
        Ok(writer)
    }

    /// The event file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queues a scalar (v1 `simple_value`; NaN and ±inf are written as they are).
    ///
    /// # Errors
    /// [`io::ErrorKind::InvalidInput`] if `step > i64::MAX`; an I/O error if queued records had
    /// to be written and that failed.
    pub fn scalar(&mut self, step: u64, tag: &str, value: f32) -> io::Result<()> {
        self.summary(step, vec![values::scalar(tag, value)])
    }

    /// Queues a v2 histogram (see [`values::histogram`]); a histogram with no finite value writes
    /// nothing and returns `Ok`. NaN and ±inf never reach the file: the histogram counts them
    /// apart, and the caller reports [`Histogram::non_finite`] as a scalar.
    ///
    /// # Errors
    /// As [`scalar`](Self::scalar).
    pub fn histogram(&mut self, step: u64, tag: &str, hist: &Histogram) -> io::Result<()> {
        match values::histogram(tag, hist) {
            Some(value) => self.summary(step, vec![value]),
            None => Ok(()),
        }
    }

    /// Queues an RGB image, `rgb` row-major `[height][width][3]`, PNG-encoded (colorspace 3).
    ///
    /// # Errors
    /// [`io::ErrorKind::InvalidInput`] for a bad size or length (see [`values::image`]) or
    /// `step > i64::MAX`; PNG encoder and I/O errors.
    pub fn image(
        &mut self,
        step: u64,
        tag: &str,
        width: u32,
        height: u32,
        rgb: &[u8],
    ) -> io::Result<()> {
        let value = values::image(tag, width, height, rgb)?;
        self.summary(step, vec![value])
    }

    /// Queues one event holding several values at `step` (smaller than one event each).
    ///
    /// # Errors
    /// As [`scalar`](Self::scalar).
    pub fn summary(&mut self, step: u64, value: Vec<summary::Value>) -> io::Result<()> {
        let step = checked_step(step)?;
        self.write_event(Event {
            wall_time: (self.clock)(),
            step,
            what: Some(What::Summary(Summary { value })),
        });
        self.spill_if_large()
    }

    /// Queues `SessionLog{status: START}` at `step`. Call it once per run, fresh or resumed,
    /// right after [`create`](Self::create), with the first step the run will log.
    ///
    /// On a resumed run's START, TensorBoard's loaders drop every event logged earlier at `step`
    /// or later (what the stopped run wrote after the checkpoint now resumed). But the plugin
    /// loader (`plugin_event_accumulator`, behind `tensorboard --load_fast=false`) ignores the
    /// *first* START of a run as the initial one: a fresh run that logs no START makes its
    /// resume's START the "initial" one, and the orphaned steps stay (checked with tensorboard
    /// 2.21.0). The legacy `event_accumulator` purges on every START, so a fresh run's START at
    /// its first step purges nothing there either.
    ///
    /// # Errors
    /// As [`scalar`](Self::scalar).
    pub fn session_start(&mut self, step: u64) -> io::Result<()> {
        let step = checked_step(step)?;
        self.write_event(Event {
            wall_time: (self.clock)(),
            step,
            what: Some(What::SessionLog(SessionLog {
                status: SessionStatus::Start as i32,
                ..SessionLog::default()
            })),
        });
        self.spill_if_large()
    }

    /// Writes every queued record to the file in one `write_all`, then `sync_data`: after `Ok`,
    /// everything logged so far survives a crash or power loss.
    ///
    /// # Errors
    /// The I/O error; the queue is kept and the file cut back to its last whole record.
    pub fn flush(&mut self) -> io::Result<()> {
        self.write_pending()?;
        self.file.sync_data()
    }

    fn write_event(&mut self, event: Event) {
        append_record(&mut self.pending, &event.encode_to_vec());
    }

    fn spill_if_large(&mut self) -> io::Result<()> {
        if self.pending.len() >= SPILL_BYTES {
            self.write_pending()
        } else {
            Ok(())
        }
    }

    /// Hands the queued whole records to the OS; on failure undoes any partial write.
    fn write_pending(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        match self.file.write_all(&self.pending) {
            Ok(()) => {
                self.committed += self.pending.len() as u64;
                self.pending.clear();
                Ok(())
            }
            Err(e) => {
                // Records appended after a torn one would be invisible to every loader.
                let _ = self.file.set_len(self.committed);
                let _ = self.file.seek(SeekFrom::Start(self.committed));
                Err(e)
            }
        }
    }
}

impl Drop for EventWriter {
    fn drop(&mut self) {
        let _ = self.write_pending();
    }
}

fn checked_step(step: u64) -> io::Result<i64> {
    i64::try_from(step).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("step {step} exceeds TensorBoard's int64"),
        )
    })
}

/// The largest 10-digit seconds field among the event files in `dir`.
fn latest_file_seconds(dir: &Path) -> io::Result<Option<u64>> {
    let mut latest = None;
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(FILE_PREFIX)) else {
            continue;
        };
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(secs) = digits.parse::<u64>() {
            latest = latest.max(Some(secs));
        }
    }
    Ok(latest)
}

/// The host's name for the file name: the kernel's, else `$HOSTNAME`, else `localhost`, with any
/// character outside `[A-Za-z0-9._-]` replaced by `_` so the name stays one path component.
pub fn hostname() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "localhost".to_owned());
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::proto::summary::value::Kind;
    use super::super::record::read_records;
    use super::*;

    fn fixed_clock() -> f64 {
        1_700_000_000.25
    }

    fn events(path: &Path) -> Vec<Event> {
        let (records, truncation) = read_records(path).unwrap();
        assert_eq!(truncation, None);
        records
            .iter()
            .map(|r| Event::decode(r.as_slice()).unwrap())
            .collect()
    }

    #[test]
    fn file_name_and_first_record() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("runs").join("a");
        let w = EventWriter::with_clock(&run, fixed_clock).unwrap();
        let name = w.path().file_name().unwrap().to_str().unwrap().to_owned();
        let want = format!(
            "events.out.tfevents.1700000000.{}.{}.valence",
            hostname(),
            std::process::id()
        );
        assert_eq!(name, want);
        assert_eq!(w.path().parent().unwrap(), run);
        // Already on disk before any flush: the first record is flushed by `create`.
        let ev = events(w.path());
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].wall_time, fixed_clock());
        assert_eq!(ev[0].what, Some(What::FileVersion("brain.Event:2".into())));
    }

    #[test]
    fn a_second_file_sorts_after_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let a = EventWriter::with_clock(dir.path(), fixed_clock).unwrap();
        let b = EventWriter::with_clock(dir.path(), fixed_clock).unwrap();
        let c = EventWriter::with_clock(dir.path(), fixed_clock).unwrap();
        assert!(a.path() < b.path() && b.path() < c.path());
        assert!(c.path().to_str().unwrap().contains("tfevents.1700000002."));
    }

    #[test]
    fn events_round_trip_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = EventWriter::with_clock(dir.path(), fixed_clock).unwrap();
        w.scalar(3, "loss", 0.0).unwrap();
        let mut h = Box::new(Histogram::new());
        h.add_slice(&[1.0, f32::NAN, 2.0]);
        w.histogram(3, "w", &h).unwrap();
        w.histogram(3, "empty", &Histogram::new()).unwrap();
        w.image(4, "img", 1, 1, &[1, 2, 3]).unwrap();
        w.session_start(5).unwrap();
        // Nothing new on disk before the flush.
        assert_eq!(events(w.path()).len(), 1);
        w.flush().unwrap();
        let ev = events(w.path());
        assert_eq!(
            ev.len(),
            5,
            "file version, scalar, histogram, image, session"
        );
        assert_eq!(ev[1].step, 3);
        let Some(What::Summary(s)) = &ev[1].what else {
            panic!("{:?}", ev[1])
        };
        assert_eq!(s.value[0].kind, Some(Kind::SimpleValue(0.0)));
        let Some(What::Summary(s)) = &ev[2].what else {
            panic!("{:?}", ev[2])
        };
        assert_eq!(s.value[0].tag, "w");
        assert_eq!(ev[3].step, 4);
        assert_eq!(
            ev[4].what,
            Some(What::SessionLog(SessionLog {
                status: 1,
                ..SessionLog::default()
            }))
        );
        assert_eq!(ev[4].step, 5);
        assert!(ev.iter().all(|e| e.wall_time == fixed_clock()));
    }

    #[test]
    fn nan_never_reaches_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = EventWriter::with_clock(dir.path(), fixed_clock).unwrap();
        let mut h = Box::new(Histogram::new());
        let values = [
            f32::NAN,
            -0.5,
            f32::INFINITY,
            0.25,
            f32::NEG_INFINITY,
            -f32::NAN,
        ];
        h.add_slice(&values);
        assert_eq!(h.nan(), 2, "the NaNs are counted apart");
        w.histogram(1, "w", &h).unwrap();
        w.flush().unwrap();
        let ev = events(w.path());
        let Some(What::Summary(s)) = &ev[1].what else {
            panic!("{:?}", ev[1])
        };
        let Some(Kind::Tensor(t)) = &s.value[0].kind else {
            panic!("{s:?}")
        };
        let numbers: Vec<f64> = t
            .tensor_content
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
            .collect();
        assert!(numbers.iter().all(|x| x.is_finite()), "{numbers:?}");
        let counts: f64 = numbers.chunks_exact(3).map(|r| r[2]).sum();
        assert_eq!(counts, 2.0, "only -0.5 and 0.25 are in the rows");
        assert_eq!((numbers[0], numbers[numbers.len() - 2]), (-0.5, 0.25));
    }

    #[test]
    fn large_queues_reach_the_file_as_whole_records() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = EventWriter::with_clock(dir.path(), fixed_clock).unwrap();
        // -1e18 and 1e18: every bucket between them, about 1450 rows, ~35 KB per event.
        let mut h = Box::new(Histogram::new());
        h.add_slice(&[-1.0e18, 1.0e18]);
        let mut step = 0u64;
        loop {
            w.histogram(step, "wide", &h).unwrap();
            step += 1;
            if w.pending.is_empty() {
                break;
            }
            assert_eq!(events(w.path()).len(), 1, "nothing spilled before 1 MiB");
            assert!(step < 100, "never spilled");
        }
        // Spilled without a flush: whole records only, every event so far.
        assert!(step > 20, "{step}");
        let (records, truncation) = read_records(w.path()).unwrap();
        assert_eq!(truncation, None);
        assert_eq!(records.len() as u64, 1 + step);
    }

    #[test]
    fn drop_writes_what_is_queued() {
        let dir = tempfile::tempdir().unwrap();
        let path = {
            let mut w = EventWriter::with_clock(dir.path(), fixed_clock).unwrap();
            w.scalar(0, "x", 1.0).unwrap();
            w.path().to_owned()
        };
        assert_eq!(events(&path).len(), 2);
    }

    #[test]
    fn step_beyond_int64_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = EventWriter::with_clock(dir.path(), fixed_clock).unwrap();
        let err = w.scalar(u64::MAX, "x", 1.0).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        w.scalar(i64::MAX as u64, "x", 1.0).unwrap();
    }

    #[test]
    fn hostname_is_one_path_component() {
        let h = hostname();
        assert!(!h.is_empty());
        assert!(h
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')));
    }
}

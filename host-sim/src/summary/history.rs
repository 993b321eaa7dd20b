//! The per-tensor learning record of a run (`runs/<run>/diagnosis/history.tsv`): what the
//! end-of-run diagnosis needs from every summary step, kept on disk so a resumed run's report
//! still starts at the run's first summary.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// One parameter tensor at one summary step.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The summary step.
    pub step: u64,
    /// The tensor's tag.
    pub tag: String,
    /// ‖W_t − W₀‖ / ‖W₀‖ (see `ParamStats::drift`).
    pub drift: f64,
    /// ‖W_{t+1} − W_t‖ / ‖W_t‖.
    pub update_ratio: f64,
    /// ‖W_t − W₀‖ / √n.
    pub rms_move: f64,
    /// The nine Distributions percentiles of W_t.
    pub w: [f64; 9],
    /// The nine Distributions percentiles of W_t − W₀.
    pub delta: [f64; 9],
}

impl Record {
    /// One tab-separated line; Rust prints every f64 so that it parses back to the same bits.
    fn to_line(&self) -> String {
        let mut s = format!(
            "{}\t{}\t{}\t{}\t{}",
            self.step, self.tag, self.drift, self.update_ratio, self.rms_move
        );
        for x in self.w.iter().chain(&self.delta) {
            s.push('\t');
            s.push_str(&x.to_string());
        }
        s.push('\n');
        s
    }

    /// The record of a line, `None` for a damaged one (such as a line cut by a crash).
    fn parse(line: &str) -> Option<Self> {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != 5 + 18 {
            return None;
        }
        let num = |i: usize| f[i].parse::<f64>().ok();
        let mut w = [0.0; 9];
        let mut delta = [0.0; 9];
        for i in 0..9 {
            w[i] = num(5 + i)?;
            delta[i] = num(14 + i)?;
        }
        Some(Self {
            step: f[0].parse().ok()?,
            tag: f[1].to_owned(),
            drift: num(2)?,
            update_ratio: num(3)?,
            rms_move: num(4)?,
            w,
            delta,
        })
    }
}

/// The records of a run, mirrored in an append-only file.
#[derive(Debug)]
pub struct History {
    path: PathBuf,
    file: File,
    records: Vec<Record>,
}

impl History {
    /// Opens `path`, keeping the records of steps before `first_step` (a resumed run drops what
    /// the stopped run logged after its checkpoint, as TensorBoard does) and any damaged line
    /// out; the file is rewritten with what is kept.
    ///
    /// # Errors
    /// I/O errors reading or writing the file.
    pub fn open(path: &Path, first_step: u64) -> io::Result<Self> {
        let records: Vec<Record> = match std::fs::read_to_string(path) {
            Ok(text) => text
                .lines()
                .filter_map(Record::parse)
                .filter(|r| r.step < first_step)
                .collect(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let text: String = records.iter().map(Record::to_line).collect();
        std::fs::write(path, text)?;
        let file = OpenOptions::new().append(true).open(path)?;
        Ok(Self {
            path: path.to_owned(),
            file,
            records,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every record so far, in the order logged.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// Appends `records` to the file (one write) and to memory.
    ///
    /// # Errors
    /// The I/O error of the write.
    pub fn append(&mut self, records: Vec<Record>) -> io::Result<()> {
        let text: String = records.iter().map(Record::to_line).collect();
        self.file.write_all(text.as_bytes())?;
        self.records.extend(records);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(step: u64, tag: &str) -> Record {
        Record {
            step,
            tag: tag.to_owned(),
            drift: 0.1 / 3.0,
            update_ratio: 1e-300,
            rms_move: -0.0,
            w: [1.0 / 7.0; 9],
            delta: [f64::MIN_POSITIVE; 9],
        }
    }

    #[test]
    fn records_round_trip_and_a_resume_drops_later_steps_and_torn_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d/history.tsv");
        let mut h = History::open(&path, 0).unwrap();
        h.append(vec![rec(0, "a"), rec(0, "b")]).unwrap();
        h.append(vec![rec(5, "a"), rec(5, "b")]).unwrap();
        drop(h);
        // A crash cut the last line.
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("10\ta\t0.5");
        std::fs::write(&path, text).unwrap();
        let h = History::open(&path, 6).unwrap();
        assert_eq!(h.records().len(), 4);
        assert_eq!(h.records()[2], rec(5, "a"), "bits survive the text form");
        let h = History::open(&path, 5).unwrap();
        assert_eq!(h.records(), &[rec(0, "a"), rec(0, "b")]);
        let again = History::open(&path, 100).unwrap();
        assert_eq!(again.records().len(), 2, "the file was rewritten");
    }
}

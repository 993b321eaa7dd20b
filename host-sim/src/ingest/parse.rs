//! Reading a board's decoded log (`defmt-print` output), line by line, into a [`BoardLog`]. The
//! grammar is the firmware's (`firmware/common/src/log.rs`); every number whose bits matter is
//! a hex bit pattern.

use anyhow::{bail, ensure, Context, Result};
use kernels::histogram::{Histogram, BUCKETS};

use crate::summary::observer::fraction;
use crate::summary::params::LearningSums;

/// The run a board reports in its `board …` line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Header {
    /// Random seed (weights and frames).
    pub seed: u64,
    /// Adam steps.
    pub steps: u32,
    /// Frames per step.
    pub batch: u32,
    /// Frames per forward/backward call.
    pub micro_batch: u32,
    /// Steps between two histogram summaries.
    pub summary_every: u32,
    /// Adam's learning rate.
    pub lr: f32,
}

/// One parameter tensor's histogram at one (0-based) step, before that step's update.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorHistogram {
    /// 0-based step.
    pub step: u32,
    /// The seed's tag (`weights_conv1`, …).
    pub tag: String,
    /// The histogram, rebuilt from the logged parts.
    pub hist: Box<Histogram>,
}

/// One ReLU layer's health at one (0-based) summary step, over the step's frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReluCounts {
    /// 0-based step.
    pub step: u32,
    /// The layer's name in the table (`conv1`, …).
    pub layer: String,
    /// Exact zeros after the ReLU.
    pub zeros: u64,
    /// Values after the ReLU.
    pub size: u64,
    /// Channels (conv) or units (dense) that output zero for every frame.
    pub dead: u64,
    /// The layer's channels or units.
    pub width: u64,
}

impl ReluCounts {
    /// `relu_zero_fraction/<layer>`, as host-sim computes it.
    pub fn zero_fraction(&self) -> f64 {
        fraction(self.zeros, self.size)
    }

    /// `dead_units/<layer>`, as host-sim computes it.
    pub fn dead_fraction(&self) -> f64 {
        fraction(self.dead, self.width)
    }
}

/// Everything a board logged.
#[derive(Debug, Clone, PartialEq)]
pub struct BoardLog {
    /// The board's name (`cortex-m4`, `riscv32`).
    pub board: String,
    /// The run's settings.
    pub header: Header,
    /// Bytes of the f32 training arena.
    pub arena_bytes: Option<usize>,
    /// Bytes of the int8 network's buffers.
    pub int8_bytes: Option<usize>,
    /// Bytes of the heap (boards that have one).
    pub heap_bytes: Option<usize>,
    /// `(1-based step, loss)`, in step order.
    pub losses: Vec<(u32, f32)>,
    /// The parameter histograms of the summary steps: W_t and W_t − W₀ (`<tag>/delta_from_init`).
    pub histograms: Vec<TensorHistogram>,
    /// The ReLU layers' zeros and dead units of the summary steps.
    pub relu: Vec<ReluCounts>,
    /// `(0-based step, tag, sums)`: what the learning scalars of the summary steps are made of.
    pub learning: Vec<(u32, String, LearningSums)>,
    /// CRC-32 of the final parameters.
    pub crc32: Option<u32>,
    /// `(part, instructions)`: `forward conv1`, …, `backward conv1`, …, `data`, `optimizer`, `step`.
    pub counts: Vec<(String, u64)>,
    /// `(held-out index, int8 prediction)`.
    pub predictions: Vec<(u32, f32)>,
    /// `(peak stack bytes, painted bytes)`.
    pub stack: Option<(usize, usize)>,
    /// `true` once the board logged `done`.
    pub done: bool,
}

/// The words of one line, with `[`, `]` and `,` read as spaces (the bucket lists).
struct Words<'a> {
    words: Vec<&'a str>,
    at: usize,
}

impl<'a> Words<'a> {
    fn new(line: &'a str) -> Self {
        Self {
            words: line
                .split(|c: char| c.is_whitespace() || matches!(c, '[' | ']' | ','))
                .filter(|w| !w.is_empty())
                .collect(),
            at: 0,
        }
    }

    fn next(&mut self, what: &str) -> Result<&'a str> {
        let w = self
            .words
            .get(self.at)
            .with_context(|| format!("expected {what}, got the end of the line"))?;
        self.at += 1;
        Ok(w)
    }

    /// Consumes the literal word `word`.
    fn word(&mut self, word: &str) -> Result<()> {
        let got = self.next(&format!("`{word}`"))?;
        ensure!(got == word, "expected `{word}`, got `{got}`");
        Ok(())
    }

    fn dec<T: std::str::FromStr>(&mut self, what: &str) -> Result<T> {
        let w = self.next(what)?;
        w.parse()
            .map_err(|_| anyhow::anyhow!("expected {what} (a decimal number), got `{w}`"))
    }

    fn hex(&mut self, what: &str) -> Result<u64> {
        let w = self.next(what)?;
        u64::from_str_radix(w, 16)
            .map_err(|_| anyhow::anyhow!("expected {what} (hex bits), got `{w}`"))
    }

    fn f32_bits(&mut self, what: &str) -> Result<f32> {
        let bits = self.hex(what)?;
        let bits = u32::try_from(bits)
            .map_err(|_| anyhow::anyhow!("expected {what} (32 hex bits), got {bits:x}"))?;
        Ok(f32::from_bits(bits))
    }

    /// `word value`: the literal, then a decimal number.
    fn field<T: std::str::FromStr>(&mut self, word: &str) -> Result<T> {
        self.word(word)?;
        self.dec(word)
    }

    fn end(&self) -> Result<()> {
        match self.words.get(self.at) {
            None => Ok(()),
            Some(w) => bail!("expected the end of the line, got `{w}`"),
        }
    }
}

/// A `hist` line waiting for its bucket lines.
struct Pending {
    step: u32,
    tag: String,
    min_max: [f64; 2],
    sums: [f64; 2],
    non_finite: [u64; 3],
    num: u64,
    buckets: usize,
    counts: Box<[u64; BUCKETS]>,
    seen: usize,
}

impl Pending {
    fn finish(self) -> Result<TensorHistogram> {
        let hist = Histogram::from_parts(&self.counts, self.min_max, self.sums, self.non_finite);
        ensure!(
            hist.num() == self.num,
            "the buckets of `{}` at step {} add up to {}, its hist line says num {}",
            self.tag,
            self.step,
            hist.num(),
            self.num
        );
        Ok(TensorHistogram {
            step: self.step,
            tag: self.tag,
            hist: Box::new(hist),
        })
    }
}

fn header(w: &mut Words<'_>) -> Result<(String, Header)> {
    let board = w.next("the board's name")?.to_owned();
    let seed = w.field("seed")?;
    let steps = w.field("steps")?;
    let batch = w.field("batch")?;
    let micro_batch = w.field("micro-batch")?;
    let summary_every = w.field("summary-every")?;
    w.word("lr")?;
    let lr = w.f32_bits("lr")?;
    Ok((
        board,
        Header {
            seed,
            steps,
            batch,
            micro_batch,
            summary_every,
            lr,
        },
    ))
}

fn hist_line(w: &mut Words<'_>) -> Result<Pending> {
    let step = w.dec("the step")?;
    let tag = w.next("the tensor's tag")?.to_owned();
    let num = w.field("num")?;
    w.word("min")?;
    let min = f64::from_bits(w.hex("min")?);
    w.word("max")?;
    let max = f64::from_bits(w.hex("max")?);
    w.word("sum")?;
    let sum = f64::from_bits(w.hex("sum")?);
    w.word("sum-sq")?;
    let sum_sq = f64::from_bits(w.hex("sum-sq")?);
    w.word("non-finite")?;
    let non_finite = [w.dec("NaNs")?, w.dec("+infs")?, w.dec("-infs")?];
    let buckets = w.field("buckets")?;
    Ok(Pending {
        step,
        tag,
        min_max: [min, max],
        sums: [sum, sum_sq],
        non_finite,
        num,
        buckets,
        counts: Box::new([0; BUCKETS]),
        seen: 0,
    })
}

/// Parses a decoded board log; `name` (the file) prefixes every error, with the line number.
///
/// # Errors
/// A line outside the grammar, a board that reported an error or a panic, a histogram whose
/// buckets do not match its totals, a log without its `board` line.
pub fn parse(name: &str, text: &str) -> Result<BoardLog> {
    let mut log: Option<BoardLog> = None;
    let mut heap_bytes = None;
    let mut pending: Option<Pending> = None;
    for (i, line) in text.lines().enumerate() {
        let at = || format!("{name}:{}", i + 1);
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        (|| -> Result<()> {
            let mut w = Words::new(line);
            let first = w.next("a word")?;
            if first == "buckets" {
                let p = pending
                    .as_mut()
                    .context("a `buckets` line without its `hist` line")?;
                while w.at < w.words.len() {
                    let index: usize = w.dec("a bucket index")?;
                    let count: u64 = w.dec("a bucket count")?;
                    ensure!(
                        index < BUCKETS,
                        "bucket index {index} is past the last bucket ({})",
                        BUCKETS - 1
                    );
                    p.counts[index] = count;
                    p.seen += 1;
                }
                if p.seen >= p.buckets {
                    ensure!(
                        p.seen == p.buckets,
                        "`{}` at step {} lists {} buckets, its hist line says {}",
                        p.tag,
                        p.step,
                        p.seen,
                        p.buckets
                    );
                    let done = pending.take().expect("checked above").finish()?;
                    log.as_mut()
                        .context("a histogram before the `board` line")?
                        .histograms
                        .push(done);
                }
                return Ok(());
            }
            if let Some(p) = &pending {
                bail!(
                    "`{}` at step {} still expects {} of its {} buckets, got a `{first}` line",
                    p.tag,
                    p.step,
                    p.buckets - p.seen,
                    p.buckets
                );
            }
            if first == "error:" || first == "panic:" {
                bail!("the board reported {line}");
            }
            if first == "heap" {
                heap_bytes = Some(w.dec("the heap's bytes")?);
                w.word("bytes")?;
                return w.end();
            }
            if first == "board" {
                ensure!(log.is_none(), "a second `board` line");
                let (board, header) = header(&mut w)?;
                log = Some(BoardLog {
                    board,
                    header,
                    arena_bytes: None,
                    int8_bytes: None,
                    heap_bytes,
                    losses: Vec::new(),
                    histograms: Vec::new(),
                    relu: Vec::new(),
                    learning: Vec::new(),
                    crc32: None,
                    counts: Vec::new(),
                    predictions: Vec::new(),
                    stack: None,
                    done: false,
                });
                return w.end();
            }
            let log = log
                .as_mut()
                .with_context(|| format!("expected the `board` line first, got `{first}`"))?;
            match first {
                "arena" | "int8" => {
                    let n = w.dec("bytes")?;
                    w.word("bytes")?;
                    *if first == "arena" {
                        &mut log.arena_bytes
                    } else {
                        &mut log.int8_bytes
                    } = Some(n);
                }
                "step" => {
                    let step = w.dec("the step")?;
                    w.word("loss")?;
                    log.losses.push((step, w.f32_bits("the loss")?));
                }
                "hist" => {
                    let p = hist_line(&mut w)?;
                    if p.buckets == 0 {
                        log.histograms.push(p.finish()?);
                    } else {
                        pending = Some(p);
                    }
                }
                "relu" => {
                    let step = w.dec("the step")?;
                    let layer = w.next("the layer")?.to_owned();
                    let zeros = w.field("zeros")?;
                    w.word("of")?;
                    let size = w.dec("the values")?;
                    let dead = w.field("dead")?;
                    w.word("of")?;
                    let width = w.dec("the width")?;
                    ensure!(
                        zeros <= size && dead <= width,
                        "`{layer}` at step {step}: {zeros} zeros of {size}, {dead} dead of {width}"
                    );
                    log.relu.push(ReluCounts {
                        step,
                        layer,
                        zeros,
                        size,
                        dead,
                        width,
                    });
                }
                "learn" => {
                    let step = w.dec("the step")?;
                    let tag = w.next("the tensor's tag")?.to_owned();
                    let mut sum = |word: &str| -> Result<f64> {
                        w.word(word)?;
                        Ok(f64::from_bits(w.hex(word)?))
                    };
                    let sums = LearningSums {
                        w_sq: sum("w-sq")?,
                        w0_sq: sum("w0-sq")?,
                        moved_sq: sum("moved-sq")?,
                        step_sq: sum("step-sq")?,
                    };
                    log.learning.push((step, tag, sums));
                }
                "crc" => log.crc32 = Some(w.hex("the CRC-32")? as u32),
                "count" => {
                    let part = w.next("what was counted")?;
                    let part = if part == "forward" || part == "backward" {
                        format!("{part} {}", w.next("the layer")?)
                    } else {
                        part.to_owned()
                    };
                    log.counts.push((part, w.dec("instructions")?));
                }
                "predict" => {
                    let i = w.dec("the frame's index")?;
                    log.predictions.push((i, w.f32_bits("the prediction")?));
                }
                "stack" => {
                    let peak = w.dec("the peak stack")?;
                    w.word("of")?;
                    log.stack = Some((peak, w.dec("the painted bytes")?));
                }
                "done" => log.done = true,
                other => bail!("expected a board log line, got `{other}`"),
            }
            w.end()
        })()
        .with_context(at)?;
    }
    if let Some(p) = pending {
        bail!(
            "{name}: ends inside the buckets of `{}` at step {}",
            p.tag,
            p.step
        );
    }
    log.with_context(|| format!("{name}: no `board` line: not a decoded valence board log"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
heap 100 bytes
board cortex-m4 seed 3 steps 2 batch 8 micro-batch 1 summary-every 4 lr 38d1b717
arena 10 bytes
step 1 loss 3e936157
hist 0 biases_conv1 num 3 min 3fb99999a0000000 max 3fc0000000000000 sum 0 sum-sq 0 non-finite 1 0 0 buckets 2
buckets [1042, 2]
buckets [1043, 1]
hist 0 empty num 0 min 7ff8000000000000 max 7ff8000000000000 sum 0 sum-sq 0 non-finite 0 0 0 buckets 0
relu 0 conv1 zeros 3 of 8 dead 1 of 4
learn 0 biases_conv1 w-sq 3ff0000000000000 w0-sq 4000000000000000 moved-sq 0 step-sq 3fd0000000000000
crc 1ee4196d
count forward conv1 40
count step 80
int8 5 bytes
predict 0 3ceb2854
stack 12 of 40
done
";

    #[test]
    fn every_line_is_read() {
        let log = parse("b.log", LOG).unwrap();
        assert_eq!(log.board, "cortex-m4");
        assert_eq!(log.header.seed, 3);
        assert_eq!(log.header.lr, 1e-4);
        assert_eq!(log.heap_bytes, Some(100));
        assert_eq!(log.losses, vec![(1, f32::from_bits(0x3e93_6157))]);
        assert_eq!(log.histograms.len(), 2);
        let h = &log.histograms[0].hist;
        assert_eq!((h.num(), h.nan()), (3, 1));
        assert_eq!((h.counts()[1042], h.counts()[1043]), (2, 1));
        assert_eq!(h.min(), Some(0.1f32 as f64));
        assert_eq!(log.histograms[1].hist.num(), 0);
        let r = &log.relu[0];
        assert_eq!((r.step, r.layer.as_str()), (0, "conv1"));
        assert_eq!((r.zero_fraction(), r.dead_fraction()), (0.375, 0.25));
        let (step, tag, sums) = &log.learning[0];
        assert_eq!((*step, tag.as_str()), (0, "biases_conv1"));
        assert_eq!(
            (sums.w_sq, sums.w0_sq, sums.moved_sq, sums.step_sq),
            (1.0, 2.0, 0.0, 0.25)
        );
        assert_eq!(log.crc32, Some(0x1ee4_196d));
        assert_eq!(log.counts[0], ("forward conv1".to_owned(), 40));
        assert_eq!(log.predictions, vec![(0, f32::from_bits(0x3ceb_2854))]);
        assert_eq!(log.stack, Some((12, 40)));
        assert!(log.done);
    }

    #[test]
    fn errors_name_the_file_the_line_what_was_expected_and_what_came() {
        for (text, want) in [
            ("step 1 loss 0\n", "b.log:1: expected the `board` line first, got `step`"),
            (
                "board x seed 1 steps 2 batch 8 micro-batch 1 summary-every 4 lr zz\n",
                "b.log:1: expected lr (hex bits), got `zz`",
            ),
            (
                "board x seed 1 steps 2 batch 8 micro-batch 1 summary-every 4 lr 0\nstep 1 loss\n",
                "b.log:2: expected the loss, got the end of the line",
            ),
            (
                "board x seed 1 steps 2 batch 8 micro-batch 1 summary-every 4 lr 0\npanic: oops\n",
                "b.log:2: the board reported panic: oops",
            ),
            (
                "board x seed 1 steps 2 batch 8 micro-batch 1 summary-every 4 lr 0\nhist 0 t num 2 min 0 max 0 sum 0 sum-sq 0 non-finite 0 0 0 buckets 1\nbuckets [5, 1]\n",
                "b.log:3: the buckets of `t` at step 0 add up to 1, its hist line says num 2",
            ),
            (
                "board x seed 1 steps 2 batch 8 micro-batch 1 summary-every 4 lr 0\nrelu 0 conv1 zeros 9 of 8 dead 0 of 4\n",
                "b.log:2: `conv1` at step 0: 9 zeros of 8, 0 dead of 4",
            ),
            ("hello\n", "b.log:1: expected the `board` line first, got `hello`"),
            ("\n", "b.log: no `board` line"),
        ] {
            let err = format!("{:#}", parse("b.log", text).unwrap_err());
            assert!(err.starts_with(want), "{text:?}: {err}");
        }
    }
}

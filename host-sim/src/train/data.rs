//! Where a run's frames come from: the built-in synthetic valence frames (`kernels::data`) or a
//! directory of real frames, each split into training and held-out examples.

use anyhow::{ensure, Result};
use kernels::data::{FrameSpec, Label, Split, Synthetic};
use kernels::rng::Rng;
use rayon::prelude::*;

use crate::dataset::RealDataset;

/// Held-out frames of a synthetic run (drawn from the held-out seed, never trained on).
pub const SYNTHETIC_HELD_OUT: usize = 512;

/// Which frames of a real data set are held out for evaluation.
#[derive(Debug, Clone, PartialEq)]
pub enum Holdout {
    /// This fraction of the directory's rows, in [0, 1), spread evenly over `labels.csv`: row `i`
    /// (0-based) is held out when `⌊(i + 1)·f⌋ > ⌊i·f⌋`, so 0.1 holds out the 10th, 20th, … row
    /// and 0 none.
    Fraction(f64),
    /// A second data set; every frame of the first one trains.
    Separate(RealDataset),
}

/// A batch of frames with their labels, in the network's input format.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// `n · side² · 3` bytes, RGB, NHWC.
    pub frames: Vec<u8>,
    /// Valence of each frame.
    pub target: Vec<f32>,
    /// Confidence (loss weight) of each frame.
    pub confidence: Vec<f32>,
}

impl Batch {
    /// Number of frames held.
    pub fn len(&self) -> usize {
        self.target.len()
    }

    /// `true` when the batch holds no frame.
    pub fn is_empty(&self) -> bool {
        self.target.is_empty()
    }
}

/// The frames of a run.
#[derive(Debug)]
pub enum Source {
    /// Synthetic frames: training frame `i` is a pure function of (seed, i), so a step's batch is
    /// frames `step·batch ..` and resuming needs only the step.
    Synthetic {
        /// The training stream.
        train: Synthetic,
        /// The held-out stream.
        held_out: Synthetic,
    },
    /// Frames from disk, shuffled per epoch by a seeded permutation.
    Real {
        /// Every example of the directory.
        data: RealDataset,
        /// Indices of the training examples.
        train: Vec<usize>,
        /// Indices of the held-out examples.
        held_out: Vec<usize>,
        /// The run's seed (for the epoch permutations).
        seed: u64,
    },
}

impl Source {
    /// Synthetic frames of `side × side` pixels for `seed`.
    ///
    /// # Errors
    /// If `side` is not a usable frame size.
    pub fn synthetic(side: usize, seed: u64) -> Result<Self> {
        let spec = FrameSpec::new(side, side)?;
        Ok(Self::Synthetic {
            train: Synthetic::new(spec, seed, Split::Train),
            held_out: Synthetic::new(spec, seed, Split::HeldOut),
        })
    }

    /// Real frames, split as `held_out` says.
    ///
    /// Row 0 always trains, so a non-empty data set always has a training frame.
    ///
    /// # Errors
    /// If a fraction is outside [0, 1).
    pub fn real(mut data: RealDataset, held_out: Holdout, seed: u64) -> Result<Self> {
        let n = data.examples.len();
        let (held_out, train): (Vec<usize>, Vec<usize>) = match held_out {
            Holdout::Fraction(f) => {
                ensure!(
                    (0.0..1.0).contains(&f),
                    "the held-out fraction must be in [0, 1), got {f}"
                );
                // f64 holds every row index exactly; the products are compared, not rounded.
                (0..n).partition(|&i| ((i + 1) as f64 * f).floor() > (i as f64 * f).floor())
            }
            Holdout::Separate(val) => {
                data.examples.extend(val.examples);
                ((n..data.examples.len()).collect(), (0..n).collect())
            }
        };
        Ok(Self::Real {
            data,
            train,
            held_out,
            seed,
        })
    }

    /// Number of distinct training examples; `None` for the endless synthetic stream.
    pub fn train_len(&self) -> Option<usize> {
        match self {
            Self::Synthetic { .. } => None,
            Self::Real { train, .. } => Some(train.len()),
        }
    }

    /// Number of held-out examples.
    pub fn held_out_len(&self) -> usize {
        match self {
            Self::Synthetic { .. } => SYNTHETIC_HELD_OUT,
            Self::Real { held_out, .. } => held_out.len(),
        }
    }

    /// Fills `out` with training batch `step` (`batch` frames), drawing frames in parallel.
    /// The result depends only on (seed, step, batch), never on the thread count.
    ///
    /// # Errors
    /// If a frame cannot be drawn (a frame-size error of the generator).
    pub fn fill_train(
        &self,
        step: u64,
        batch: usize,
        frame_len: usize,
        out: &mut Batch,
    ) -> Result<()> {
        let first = step * batch as u64;
        match self {
            Self::Synthetic { train, .. } => fill_synthetic(train, first, batch, frame_len, out),
            Self::Real {
                data, train, seed, ..
            } => {
                let len = train.len() as u64;
                let mut order: Option<(u64, Vec<usize>)> = None;
                let mut picks = Vec::with_capacity(batch);
                for i in first..first + batch as u64 {
                    let epoch = i / len;
                    if order.as_ref().is_none_or(|o| o.0 != epoch) {
                        order = Some((epoch, epoch_order(train.len(), *seed, epoch)));
                    }
                    let pos = (i % len) as usize;
                    picks.push(train[order.as_ref().map_or(pos, |o| o.1[pos])]);
                }
                fill_real(data, &picks, frame_len, out);
                Ok(())
            }
        }
    }

    /// Fills `out` with held-out examples `start .. start + n`.
    ///
    /// # Errors
    /// If a frame cannot be drawn.
    pub fn fill_held_out(
        &self,
        start: usize,
        n: usize,
        frame_len: usize,
        out: &mut Batch,
    ) -> Result<()> {
        match self {
            Self::Synthetic { held_out, .. } => {
                fill_synthetic(held_out, start as u64, n, frame_len, out)
            }
            Self::Real { data, held_out, .. } => {
                fill_real(data, &held_out[start..start + n], frame_len, out);
                Ok(())
            }
        }
    }
}

/// The order in which epoch `epoch` of the endless training stream visits the `len` training
/// examples: a Fisher–Yates shuffle drawn from `Rng::new(seed, epoch)`.
fn epoch_order(len: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    let mut rng = Rng::new(seed, epoch);
    for k in (1..len).rev() {
        let j = rng.below(k as u32 + 1) as usize;
        order.swap(k, j);
    }
    order
}

fn resize(out: &mut Batch, n: usize, frame_len: usize) {
    out.frames.resize(n * frame_len, 0);
    out.target.resize(n, 0.0);
    out.confidence.resize(n, 0.0);
}

fn fill_synthetic(
    gen: &Synthetic,
    first: u64,
    n: usize,
    frame_len: usize,
    out: &mut Batch,
) -> Result<()> {
    resize(out, n, frame_len);
    let labels: Vec<Label> = out
        .frames
        .par_chunks_mut(frame_len)
        .enumerate()
        .map(|(k, frame)| gen.frame_u8(first + k as u64, frame))
        .collect::<Result<_, _>>()?;
    for (k, l) in labels.into_iter().enumerate() {
        out.target[k] = l.valence;
        out.confidence[k] = l.confidence;
    }
    Ok(())
}

fn fill_real(data: &RealDataset, picks: &[usize], frame_len: usize, out: &mut Batch) {
    resize(out, picks.len(), frame_len);
    for (k, &i) in picks.iter().enumerate() {
        let ex = &data.examples[i];
        out.frames[k * frame_len..(k + 1) * frame_len].copy_from_slice(&ex.pixels);
        out.target[k] = ex.valence;
        out.confidence[k] = ex.confidence;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::real::Example;

    #[test]
    fn synthetic_batches_are_the_generators_frames_by_step() {
        let src = Source::synthetic(32, 5).unwrap();
        let mut b = Batch::default();
        src.fill_train(3, 4, 32 * 32 * 3, &mut b).unwrap();
        let gen = Synthetic::new(FrameSpec::new(32, 32).unwrap(), 5, Split::Train);
        let mut one = vec![0u8; 32 * 32 * 3];
        let label = gen.frame_u8(13, &mut one).unwrap();
        // Step 3 of batch 4 holds frames 12..16: its second frame is frame 13.
        assert_eq!(&b.frames[32 * 32 * 3..2 * 32 * 32 * 3], &one[..]);
        assert_eq!(b.target[1], label.valence);
        assert_eq!(b.confidence[1], label.confidence);
    }

    fn real(n: usize) -> RealDataset {
        let examples = (0..n)
            .map(|i| Example {
                file: format!("{i}.png"),
                pixels: vec![i as u8; 3],
                valence: i as f32 / 100.0,
                confidence: 1.0,
            })
            .collect();
        RealDataset { size: 1, examples }
    }

    #[test]
    fn real_data_holds_out_every_tenth_and_visits_each_training_example_once_per_epoch() {
        let src = Source::real(real(25), Holdout::Fraction(0.1), 1).unwrap();
        assert_eq!(src.held_out_len(), 2);
        let Source::Real {
            train, held_out, ..
        } = &src
        else {
            unreachable!()
        };
        assert_eq!(held_out, &vec![9, 19]);
        assert_eq!(train.len(), 23);
        let mut b = Batch::default();
        // One epoch = 23 examples: batch 23 at step 0 and at step 1 are two permutations.
        for step in 0..2 {
            src.fill_train(step, 23, 3, &mut b).unwrap();
            let mut seen: Vec<u8> = b.frames.chunks(3).map(|f| f[0]).collect();
            seen.sort_unstable();
            let mut want: Vec<u8> = train.iter().map(|&i| i as u8).collect();
            want.sort_unstable();
            assert_eq!(seen, want, "epoch {step}");
        }
    }

    #[test]
    fn the_held_out_fraction_and_a_separate_set_choose_the_held_out_rows() {
        let held = |f: f64, n: usize| match Source::real(real(n), Holdout::Fraction(f), 1).unwrap()
        {
            Source::Real { held_out, .. } => held_out,
            Source::Synthetic { .. } => unreachable!(),
        };
        assert_eq!(
            held(0.0, 30),
            Vec::<usize>::new(),
            "--holdout 0 trains on every row"
        );
        assert_eq!(held(0.25, 8), vec![3, 7]);
        assert_eq!(held(0.5, 5), vec![1, 3]);
        // 9 rows at 0.1: none held out (the report says there are too few), training still works.
        assert_eq!(held(0.1, 9), Vec::<usize>::new());
        assert!(Source::real(real(3), Holdout::Fraction(1.0), 1).is_err());
        let src = Source::real(real(4), Holdout::Separate(real(3)), 1).unwrap();
        let Source::Real {
            data,
            train,
            held_out,
            ..
        } = &src
        else {
            unreachable!()
        };
        assert_eq!(
            (train.clone(), held_out.clone()),
            (vec![0, 1, 2, 3], vec![4, 5, 6])
        );
        assert_eq!(
            data.examples[5].file, "1.png",
            "the second set's second row"
        );
    }
}

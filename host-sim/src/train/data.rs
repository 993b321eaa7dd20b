//! Where a run's examples come from: the built-in synthetic valence frames (`kernels::data`,
//! for regression networks), synthetic class-conditional examples ([`Classes`], for
//! classification networks), or a directory of real frames; each split into training and
//! held-out examples, in the network's input format.
//!
//! Every source yields `u8` frames of the network's `h × w × c`; an `f32` network reads them as
//! `(x − 128)/255`, the normalisation a `u8` network's first convolution applies.

use std::path::Path;

use anyhow::{bail, ensure, Result};
use kernels::conv2d::normalise_u8;
use kernels::data::{FrameSpec, Label, Split, Synthetic};
use kernels::net::{Input, InputKind, Inputs, Loss, Network, Targets};
use kernels::rng::Rng;
use rayon::prelude::*;

use crate::dataset::classes::{to_byte, Classes};
use crate::dataset::{FrameShape, RealDataset};

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

/// A batch of examples with their labels, in the network's input format.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// `n · h·w·c` bytes, NHWC.
    pub frames: Vec<u8>,
    /// The same as `f32` features `(x − 128)/255`, for an `f32` network (else empty).
    pub features: Vec<f32>,
    /// Valence of each frame (regression).
    pub target: Vec<f32>,
    /// Confidence (loss weight) of each frame (regression).
    pub confidence: Vec<f32>,
    /// Class of each example (classification; else empty).
    pub labels: Vec<u32>,
}

impl Batch {
    /// Number of examples held.
    pub fn len(&self) -> usize {
        self.target.len()
    }

    /// `true` when the batch holds no example.
    pub fn is_empty(&self) -> bool {
        self.target.is_empty()
    }

    /// Examples `range` as the network's input (`frame_len` values each).
    pub fn inputs(&self, range: std::ops::Range<usize>, frame_len: usize) -> Inputs<'_> {
        let values = range.start * frame_len..range.end * frame_len;
        if self.features.is_empty() {
            Inputs::U8(&self.frames[values])
        } else {
            Inputs::F32(&self.features[values])
        }
    }

    /// Examples `range`'s targets for `loss`.
    pub fn targets(&self, range: std::ops::Range<usize>, loss: Loss) -> Targets<'_> {
        match loss {
            Loss::WeightedAbs => Targets::Weighted {
                target: &self.target[range.clone()],
                confidence: &self.confidence[range],
            },
            Loss::Mse => Targets::Values(&self.target[range]),
            Loss::SoftmaxCrossEntropy => Targets::Labels(&self.labels[range]),
        }
    }

    /// Appends `other`'s examples.
    pub fn extend(&mut self, other: &Self) {
        self.frames.extend_from_slice(&other.frames);
        self.features.extend_from_slice(&other.features);
        self.target.extend_from_slice(&other.target);
        self.confidence.extend_from_slice(&other.confidence);
        self.labels.extend_from_slice(&other.labels);
    }
}

/// The examples of a run and the network input they are made for.
#[derive(Debug)]
pub struct Source {
    input: Input,
    /// Where they come from.
    pub examples: Examples,
}

/// Where a run's examples come from.
#[derive(Debug)]
pub enum Examples {
    /// Synthetic valence frames: training frame `i` is a pure function of (seed, i), so a
    /// step's batch is frames `step·batch ..` and resuming needs only the step.
    Synthetic {
        /// The training stream.
        train: Synthetic,
        /// The held-out stream.
        held_out: Synthetic,
    },
    /// Synthetic classification examples, by index like the valence frames.
    Classes {
        /// The training stream.
        train: Classes,
        /// The held-out stream.
        held_out: Classes,
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

/// The class count of a classification network (`None` for regression).
pub fn classes_of(net: &Network) -> Option<usize> {
    (net.loss == Loss::SoftmaxCrossEntropy).then(|| net.plan().map_or(0, |p| p.output_len()))
}

/// The frames `net` reads.
pub const fn shape_of(net: &Network) -> FrameShape {
    FrameShape {
        h: net.input.h,
        w: net.input.w,
        c: net.input.c,
    }
}

impl Source {
    /// Synthetic examples for `net` and `seed`: valence frames for a regression network (one
    /// output), class-conditional examples for a classification network.
    ///
    /// # Errors
    /// If the frame size is not usable, or `net` is a regression network with several outputs
    /// or a channel count valence frames do not convert to (1, 3, 4).
    pub fn synthetic(net: &Network, seed: u64) -> Result<Self> {
        let input = net.input;
        let examples = if let Some(k) = classes_of(net) {
            Examples::Classes {
                train: Classes::new(input.h, input.w, input.c, k, seed, Split::Train),
                held_out: Classes::new(input.h, input.w, input.c, k, seed, Split::HeldOut),
            }
        } else {
            let outputs = net.plan()?.output_len();
            ensure!(
                outputs == 1,
                "the synthetic valence frames have one target; this network has {outputs} outputs (pass --data, or end in one output)"
            );
            ensure!(
                [1, 3, 4].contains(&input.c),
                "the synthetic valence frames convert to 1, 3 or 4 channels; this network's input has {}",
                input.c
            );
            let spec = FrameSpec::new(input.h, input.w)?;
            Examples::Synthetic {
                train: Synthetic::new(spec, seed, Split::Train),
                held_out: Synthetic::new(spec, seed, Split::HeldOut),
            }
        };
        Ok(Self { input, examples })
    }

    /// Real frames for `net`, split as `held_out` says.
    ///
    /// Row 0 always trains, so a non-empty data set always has a training frame.
    ///
    /// # Errors
    /// If a fraction is outside [0, 1).
    pub fn real(
        net: &Network,
        mut data: RealDataset,
        held_out: Holdout,
        seed: u64,
    ) -> Result<Self> {
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
        Ok(Self {
            input: net.input,
            examples: Examples::Real {
                data,
                train,
                held_out,
                seed,
            },
        })
    }

    /// `net`'s examples: synthetic without `data`, else `data`'s frames with `val_data`'s (or
    /// a `holdout` fraction of `data`'s) held out; directories are read on `pool`.
    ///
    /// # Errors
    /// As [`Source::synthetic`], [`Source::real`] and [`crate::dataset::load_dir`].
    pub fn open(
        net: &Network,
        data: Option<&Path>,
        val_data: Option<&Path>,
        holdout: f64,
        seed: u64,
        pool: &rayon::ThreadPool,
    ) -> Result<Self> {
        let Some(dir) = data else {
            return Self::synthetic(net, seed);
        };
        let load =
            |d: &Path| pool.install(|| crate::dataset::load_dir(d, shape_of(net), classes_of(net)));
        let held_out = match val_data {
            Some(v) => Holdout::Separate(load(v)?),
            None => Holdout::Fraction(holdout),
        };
        if net.loss == Loss::Mse && net.plan()?.output_len() != 1 {
            bail!("labels.csv gives one valence per frame; this MSE network has several outputs");
        }
        Self::real(net, load(dir)?, held_out, seed)
    }

    /// Number of distinct training examples; `None` for the endless synthetic streams.
    pub fn train_len(&self) -> Option<usize> {
        match &self.examples {
            Examples::Synthetic { .. } | Examples::Classes { .. } => None,
            Examples::Real { train, .. } => Some(train.len()),
        }
    }

    /// Number of held-out examples.
    pub fn held_out_len(&self) -> usize {
        match &self.examples {
            Examples::Synthetic { .. } | Examples::Classes { .. } => SYNTHETIC_HELD_OUT,
            Examples::Real { held_out, .. } => held_out.len(),
        }
    }

    /// Fills `out` with training batch `step` (`batch` examples), drawing them in parallel.
    /// The result depends only on (seed, step, batch), never on the thread count.
    ///
    /// # Errors
    /// If a frame cannot be drawn (a frame-size error of the generator).
    pub fn fill_train(&self, step: u64, batch: usize, out: &mut Batch) -> Result<()> {
        let first = step * batch as u64;
        match &self.examples {
            Examples::Synthetic { train, .. } => self.fill_synthetic(train, first, batch, out)?,
            Examples::Classes { train, .. } => self.fill_classes(train, first, batch, out),
            Examples::Real {
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
                self.fill_real(data, &picks, out);
            }
        }
        self.features(out);
        Ok(())
    }

    /// Fills `out` with held-out examples `start .. start + n`.
    ///
    /// # Errors
    /// If a frame cannot be drawn.
    pub fn fill_held_out(&self, start: usize, n: usize, out: &mut Batch) -> Result<()> {
        match &self.examples {
            Examples::Synthetic { held_out, .. } => {
                self.fill_synthetic(held_out, start as u64, n, out)?;
            }
            Examples::Classes { held_out, .. } => {
                self.fill_classes(held_out, start as u64, n, out);
            }
            Examples::Real { data, held_out, .. } => {
                self.fill_real(data, &held_out[start..start + n], out);
            }
        }
        self.features(out);
        Ok(())
    }

    fn frame_len(&self) -> usize {
        self.input.h * self.input.w * self.input.c
    }

    fn resize(&self, out: &mut Batch, n: usize) {
        out.frames.resize(n * self.frame_len(), 0);
        out.target.resize(n, 0.0);
        out.confidence.resize(n, 0.0);
        out.labels.clear();
        out.features.clear();
    }

    /// An `f32` network's features from the frames.
    fn features(&self, out: &mut Batch) {
        if self.input.kind == InputKind::F32 {
            out.features
                .extend(out.frames.iter().map(|&x| normalise_u8(x)));
        }
    }

    fn fill_synthetic(&self, gen: &Synthetic, first: u64, n: usize, out: &mut Batch) -> Result<()> {
        self.resize(out, n);
        let c = self.input.c;
        let labels: Vec<Label> = out
            .frames
            .par_chunks_mut(self.frame_len())
            .enumerate()
            .map(|(k, frame)| {
                if c == 3 {
                    return gen.frame_u8(first + k as u64, frame);
                }
                let mut rgb = vec![0u8; gen.frame_len()];
                let label = gen.frame_u8(first + k as u64, &mut rgb)?;
                convert_rgb(&rgb, c, frame);
                Ok(label)
            })
            .collect::<Result<_, _>>()?;
        for (k, l) in labels.into_iter().enumerate() {
            out.target[k] = l.valence;
            out.confidence[k] = l.confidence;
        }
        Ok(())
    }

    fn fill_classes(&self, gen: &Classes, first: u64, n: usize, out: &mut Batch) {
        self.resize(out, n);
        out.confidence.fill(1.0);
        let len = gen.example_len();
        out.labels = out
            .frames
            .par_chunks_mut(self.frame_len())
            .enumerate()
            .map_init(
                || vec![0.0f32; len],
                |values, (k, frame)| {
                    let class = gen.example(first + k as u64, values);
                    for (b, &v) in frame.iter_mut().zip(values.iter()) {
                        *b = to_byte(v);
                    }
                    class
                },
            )
            .collect();
    }

    fn fill_real(&self, data: &RealDataset, picks: &[usize], out: &mut Batch) {
        self.resize(out, picks.len());
        let frame_len = self.frame_len();
        for (k, &i) in picks.iter().enumerate() {
            let ex = &data.examples[i];
            out.frames[k * frame_len..(k + 1) * frame_len].copy_from_slice(&ex.pixels);
            out.target[k] = ex.valence;
            out.confidence[k] = ex.confidence;
            if let Some(class) = ex.class {
                out.labels.push(class);
            }
        }
    }
}

/// An RGB frame converted to `c` channels as `--data` converts images: luma with the `image`
/// crate's Rec. 709 weights for 1 (rounded to nearest, where the crate truncates, so a byte may
/// be one above the crate's), opaque alpha added for 4.
fn convert_rgb(rgb: &[u8], c: usize, out: &mut [u8]) {
    for (px, o) in rgb.chunks_exact(3).zip(out.chunks_exact_mut(c)) {
        match c {
            1 => {
                let y = 0.2126 * f32::from(px[0])
                    + 0.7152 * f32::from(px[1])
                    + 0.0722 * f32::from(px[2]);
                o[0] = y.round().clamp(0.0, 255.0) as u8;
            }
            _ => {
                o[..3].copy_from_slice(px);
                o[3..].fill(255);
            }
        }
    }
}

/// `frames` of `c` channels as RGB bytes for TensorBoard's images: RGB as it is, gray replicated,
/// RGBA without its alpha, any other count its first channel as gray.
pub fn rgb_frames(frames: &[u8], c: usize) -> std::borrow::Cow<'_, [u8]> {
    match c {
        3 => std::borrow::Cow::Borrowed(frames),
        4 => frames
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect(),
        _ => frames
            .chunks_exact(c.max(1))
            .flat_map(|p| [p[0]; 3])
            .collect(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::real::Example;

    fn square_rgb(side: usize) -> Input {
        Input {
            h: side,
            w: side,
            c: 3,
            kind: InputKind::U8,
        }
    }

    #[test]
    fn synthetic_batches_are_the_generators_frames_by_step() {
        let net = Network {
            input: square_rgb(64),
            ..Network::TINY
        };
        let src = Source::synthetic(&net, 5).unwrap();
        let mut b = Batch::default();
        src.fill_train(3, 4, &mut b).unwrap();
        let gen = Synthetic::new(FrameSpec::new(64, 64).unwrap(), 5, Split::Train);
        let mut one = vec![0u8; 64 * 64 * 3];
        let label = gen.frame_u8(13, &mut one).unwrap();
        // Step 3 of batch 4 holds frames 12..16: its second frame is frame 13.
        assert_eq!(&b.frames[64 * 64 * 3..2 * 64 * 64 * 3], &one[..]);
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
                class: None,
            })
            .collect();
        RealDataset {
            shape: FrameShape::square_rgb(1),
            examples,
        }
    }

    /// A network reading the 1×1 RGB frames of [`real`].
    fn pixel() -> Network {
        Network {
            input: square_rgb(1),
            ..Network::TINY
        }
    }

    #[test]
    fn real_data_holds_out_every_tenth_and_visits_each_training_example_once_per_epoch() {
        let src = Source::real(&pixel(), real(25), Holdout::Fraction(0.1), 1).unwrap();
        assert_eq!(src.held_out_len(), 2);
        let Examples::Real {
            train, held_out, ..
        } = &src.examples
        else {
            unreachable!()
        };
        assert_eq!(held_out, &vec![9, 19]);
        assert_eq!(train.len(), 23);
        let mut b = Batch::default();
        // One epoch = 23 examples: batch 23 at step 0 and at step 1 are two permutations.
        for step in 0..2 {
            src.fill_train(step, 23, &mut b).unwrap();
            let mut seen: Vec<u8> = b.frames.chunks(3).map(|f| f[0]).collect();
            seen.sort_unstable();
            let mut want: Vec<u8> = train.iter().map(|&i| i as u8).collect();
            want.sort_unstable();
            assert_eq!(seen, want, "epoch {step}");
        }
    }

    #[test]
    fn the_held_out_fraction_and_a_separate_set_choose_the_held_out_rows() {
        let held = |f: f64, n: usize| match Source::real(&pixel(), real(n), Holdout::Fraction(f), 1)
            .unwrap()
            .examples
        {
            Examples::Real { held_out, .. } => held_out,
            _ => unreachable!(),
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
        assert!(Source::real(&pixel(), real(3), Holdout::Fraction(1.0), 1).is_err());
        let src = Source::real(&pixel(), real(4), Holdout::Separate(real(3)), 1).unwrap();
        let Examples::Real {
            data,
            train,
            held_out,
            ..
        } = &src.examples
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

    #[test]
    fn a_gray_networks_synthetic_frames_are_the_rgb_frames_luma() {
        let gray = Network {
            input: Input {
                c: 1,
                ..square_rgb(64)
            },
            ..Network::TINY
        };
        let mut b = Batch::default();
        Source::synthetic(&gray, 5)
            .unwrap()
            .fill_train(0, 2, &mut b)
            .unwrap();
        let gen = Synthetic::new(FrameSpec::new(64, 64).unwrap(), 5, Split::Train);
        let mut rgb = vec![0u8; 64 * 64 * 3];
        let label = gen.frame_u8(1, &mut rgb).unwrap();
        assert_eq!(b.target[1], label.valence);
        // Rec. 709 luma in f64, the reference; the f32 conversion may round the other way.
        for (px, &y) in rgb.chunks(3).zip(&b.frames[64 * 64..]) {
            let want =
                0.2126 * f64::from(px[0]) + 0.7152 * f64::from(px[1]) + 0.0722 * f64::from(px[2]);
            assert!(
                (f64::from(y) - want).abs() <= 0.5 + 1e-4,
                "{px:?} → {y}, want {want}"
            );
        }
        // An f32 network reads the same frames as (x − 128)/255.
        let f32_net = Network {
            input: Input {
                kind: InputKind::F32,
                ..gray.input
            },
            ..gray
        };
        let mut f = Batch::default();
        Source::synthetic(&f32_net, 5)
            .unwrap()
            .fill_train(0, 2, &mut f)
            .unwrap();
        assert_eq!(f.frames, b.frames);
        let x = f.frames[100];
        assert_eq!(f.features[100], (f32::from(x) - 128.0) / 255.0);
        assert!(matches!(f.inputs(0..2, 64 * 64), Inputs::F32(v) if v.len() == 2 * 64 * 64));
    }

    #[test]
    fn frames_of_any_channel_count_show_as_rgb() {
        assert_eq!(&*rgb_frames(&[1, 2, 3], 3), [1, 2, 3]);
        assert_eq!(&*rgb_frames(&[7, 9], 1), [7, 7, 7, 9, 9, 9]);
        assert_eq!(&*rgb_frames(&[1, 2, 3, 4], 4), [1, 2, 3]);
        assert_eq!(&*rgb_frames(&[5, 6], 2), [5, 5, 5]);
    }
}

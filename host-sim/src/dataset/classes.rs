//! Synthetic class-conditional examples for classification networks (softmax cross-entropy):
//! keyword-spotting-like "spectrograms" a network can only classify by their shape.
//!
//! An example is `h × w × c` values; rows are read as time, columns as frequency bins. Each
//! class owns two "formants": tracks that glide linearly across the frequency axis over the
//! word's duration, drawn once per class from `(seed, class)` (so the training and held-out
//! splits share them). Example `i` is a pure function of `(seed, split, i)` like
//! `kernels::data`'s frames: its class is uniform, the word starts at a random time and lasts
//! 40–70 % of the rows, the formants are shifted by up to ±½ bin, their loudness is jittered,
//! and Gaussian noise (σ 0.12) covers everything. Values lie around [−0.5, 0.5], the range a
//! `u8` frame's `(x − 128)/255` has: an `f32` network gets them as they are, a `u8` network as
//! `round(128 + 255·v)` clamped to bytes. Channels beyond the first repeat the first at
//! 0.8, 0.6, … of its loudness (like the bands of a filter bank).

use kernels::data::Split;
use kernels::rng::Rng;

/// Stream of the class templates (a different stream than any example index can select).
const TEMPLATE_STREAM: u64 = 0x434C_4153_5345_5321; // "CLASSES!"
/// Pixel noise σ.
const NOISE: f32 = 0.12;
/// Half-width (in bins) of a formant's bump.
const FORMANT_WIDTH: f32 = 0.9;

/// One class's two formants: start bin and glide (bins over the word) of each.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Template {
    start: [f32; 2],
    glide: [f32; 2],
}

/// The generator of one split of a seed's classification examples.
#[derive(Debug, Clone, PartialEq)]
pub struct Classes {
    h: usize,
    w: usize,
    c: usize,
    seed: u64,
    templates: Vec<Template>,
}

impl Classes {
    /// Examples of `h × w × c` values in `classes` classes, split `split` of seed `seed`.
    pub fn new(h: usize, w: usize, c: usize, classes: usize, seed: u64, split: Split) -> Self {
        let bins = w.max(1) as f32;
        let templates = (0..classes as u64)
            .map(|k| {
                let mut r = Rng::new(seed ^ TEMPLATE_STREAM, k);
                let mut track = || {
                    let start = r.next_f32() * (bins - 1.0);
                    let end = r.next_f32() * (bins - 1.0);
                    (start, end - start)
                };
                let (s0, g0) = track();
                let (s1, g1) = track();
                Template {
                    start: [s0, s1],
                    glide: [g0, g1],
                }
            })
            .collect();
        Self {
            h,
            w,
            c,
            seed: split.generator_seed(seed),
            templates,
        }
    }

    /// Number of values in one example.
    pub const fn example_len(&self) -> usize {
        self.h * self.w * self.c
    }

    /// Writes example `index` into `out` (`h·w·c` values, NHWC) and returns its class.
    ///
    /// # Panics
    /// If `out` is not [`Classes::example_len`] long (a caller bug: the host sizes it).
    pub fn example(&self, index: u64, out: &mut [f32]) -> u32 {
        assert_eq!(out.len(), self.example_len(), "example buffer length");
        let mut r = Rng::new(self.seed, index);
        let class = r.below(self.templates.len() as u32);
        let t = self.templates[class as usize];
        let rows = self.h as f32;
        let len = (0.4 + 0.3 * r.next_f32()) * rows;
        let onset = r.next_f32() * (rows - len);
        let shift = r.next_f32() - 0.5;
        let loud = [0.3 + 0.15 * r.next_f32(), 0.2 + 0.15 * r.next_f32()];
        for (y, row) in out.chunks_exact_mut(self.w * self.c).enumerate() {
            let along = (y as f32 + 0.5 - onset) / len;
            for (x, px) in row.chunks_exact_mut(self.c).enumerate() {
                let mut v = -0.25;
                if (0.0..1.0).contains(&along) {
                    for ((start, glide), loud) in t.start.iter().zip(t.glide).zip(loud) {
                        let centre = start + glide * along + shift;
                        let d = (x as f32 - centre) / FORMANT_WIDTH;
                        v += loud * (-0.5 * d * d).exp();
                    }
                }
                let mut band = 1.0;
                for p in px.iter_mut() {
                    *p = (v * band + NOISE * r.next_normal()).clamp(-0.5, 0.5);
                    band -= 0.2;
                }
            }
        }
        class
    }
}

/// `v` as a `u8` frame's byte: the inverse of `(x − 128)/255`, rounded and clamped.
pub fn to_byte(v: f32) -> u8 {
    (128.0 + 255.0 * v).round().clamp(0.0, 255.0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_example_is_a_pure_function_of_seed_split_and_index() {
        let g = Classes::new(49, 10, 1, 12, 3, Split::Train);
        let (mut a, mut b) = (vec![0.0; 490], vec![0.0; 490]);
        let ka = g.example(17, &mut a);
        let kb = Classes::new(49, 10, 1, 12, 3, Split::Train).example(17, &mut b);
        assert_eq!((ka, &a), (kb, &b));
        let held = Classes::new(49, 10, 1, 12, 3, Split::HeldOut);
        let kh = held.example(17, &mut b);
        assert!(ka != kh || a != b, "the splits draw different examples");
        assert!(a.iter().all(|v| (-0.5..=0.5).contains(v)));
    }

    #[test]
    fn classes_are_about_uniform_and_their_means_differ() {
        // Over 1200 examples each of the 12 classes appears about 100 times, and two classes'
        // mean examples differ by far more than the noise left in a mean of ~100 examples.
        let g = Classes::new(49, 10, 1, 12, 0, Split::Train);
        let mut count = [0usize; 12];
        let mut mean = vec![vec![0.0f64; 490]; 12];
        let mut x = vec![0.0; 490];
        for i in 0..1200 {
            let k = g.example(i, &mut x) as usize;
            count[k] += 1;
            for (m, v) in mean[k].iter_mut().zip(&x) {
                *m += f64::from(*v);
            }
        }
        assert!(count.iter().all(|&n| (60..=140).contains(&n)), "{count:?}");
        for (m, n) in mean.iter_mut().zip(count) {
            m.iter_mut().for_each(|v| *v /= n as f64);
        }
        let dist = |a: &[f64], b: &[f64]| {
            a.iter()
                .zip(b)
                .map(|(x, y)| (x - y).powi(2))
                .sum::<f64>()
                .sqrt()
        };
        let closest = (0..12)
            .flat_map(|a| (a + 1..12).map(move |b| (a, b)))
            .map(|(a, b)| dist(&mean[a], &mean[b]))
            .fold(f64::MAX, f64::min);
        // Noise in one mean: σ 0.12/√100 per value over 490 values ≈ 0.27 in norm.
        assert!(closest > 0.5, "closest class means {closest}");
    }

    #[test]
    fn bytes_invert_the_u8_normalisation() {
        for x in [0u8, 1, 127, 128, 200, 255] {
            assert_eq!(to_byte((f32::from(x) - 128.0) / 255.0), x);
        }
        assert_eq!((to_byte(-9.0), to_byte(9.0)), (0, 255));
    }
}

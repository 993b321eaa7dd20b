//! Writes a few synthetic valence frames as binary PPM (P6) files, to look at them.
//!
//! `cargo run -p kernels --example dump_frames -- [count] [size] [seed] [dir]`
//! (defaults: 16 frames, 96 px, seed 1, `/tmp/valence-frames`). Prints each file's label, then
//! times drawing 2000 frames of that size (build with `--release` for meaningful numbers).

use kernels::data::{FrameSpec, Split, Synthetic};
use std::io::Write;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let count: u64 = args.next().map_or(Ok(16), |a| a.parse())?;
    let size: usize = args.next().map_or(Ok(96), |a| a.parse())?;
    let seed: u64 = args.next().map_or(Ok(1), |a| a.parse())?;
    let dir = args
        .next()
        .unwrap_or_else(|| "/tmp/valence-frames".to_string());
    std::fs::create_dir_all(&dir)?;

    let data = Synthetic::new(FrameSpec::new(size, size)?, seed, Split::Train);
    let mut frame = vec![0u8; data.frame_len()];
    for i in 0..count {
        let label = data.frame_u8(i, &mut frame)?;
        let path = format!("{dir}/frame-{i:03}.ppm");
        let mut f = std::fs::File::create(&path)?;
        write!(f, "P6\n{size} {size}\n255\n")?;
        f.write_all(&frame)?;
        println!(
            "{path}\tvalence {:+.3}\tconfidence {:.3}",
            label.valence, label.confidence
        );
    }

    {
        let side = size;
        let n = 2000;
        let start = std::time::Instant::now();
        let mut checksum = 0.0f32;
        for i in 0..n {
            checksum += data.frame_u8(i, &mut frame)?.valence + f32::from(frame[0]);
        }
        let per = start.elapsed().as_secs_f64() / n as f64;
        println!(
            "{side}x{side}: {:.1} µs per frame ({:.0} frames/s, one thread; checksum {checksum})",
            per * 1e6,
            1.0 / per
        );
    }
    Ok(())
}

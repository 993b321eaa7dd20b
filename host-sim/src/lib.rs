//! `host-sim`: runs the valence network on a desktop — training on all cores with a fast GEMM or
//! on the boards' portable path (`--exact`), checkpoints (safetensors), and `.npy` and
//! safetensors export and import.
//!
//! Modules, one concept each: [`cli`] (the flags), [`bench`](mod@bench) (frames/s and peak
//! memory), [`fast_gemm`] (the threaded SIMD [`kernels::Gemm`] and the host's own layer
//! algorithms: [`winograd`], [`im2col_conv`], [`lrn_avx512`] and, on x86-64, `pool_fast`, with
//! `stream`'s memory hints),
//! [`memory`] (buffers sized by
//! flags), [`network_file`] (`--config PATH`: a network table as TOML/JSON), [`dataset`] (real
//! frames from disk), [`npy`] (numpy's file format), [`checkpoint`] (the resumable training
//! state), [`network`] (a `--config` name's table and its parameters in checkpoints),
//! [`checksum`] (the parameters' CRC-32), [`weights`] (checkpoint ↔ `.npy` and safetensors),
//! [`quantize`] (int8 model files), [`ingest`] (board logs), [`tensorboard`] (event files),
//! [`summary`] (what a run logs and the learning diagnosis), [`workers`] (the thread count and
//! pool) and [`train`] (the trainer).
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod bench;
pub mod checkpoint;
pub mod checksum;
pub mod cli;
pub mod dataset;
pub mod fast_gemm;
pub mod im2col_conv;
pub mod ingest;
pub mod lrn_avx512;
pub mod memory;
pub mod network;
pub mod network_file;
pub mod npy;
// Its vectors are x86-64's; elsewhere the kernels' own max-pool runs.
#[cfg(target_arch = "x86_64")]
mod pool_fast;
pub mod quantize;
// Its hints are x86-64 instructions; only the x86-64 passes use them.
#[cfg(target_arch = "x86_64")]
mod stream;
pub mod summary;
pub mod tensorboard;
pub mod train;
pub mod weights;
pub mod winograd;
pub mod workers;

use anyhow::Result;

use cli::{Args, Command};

/// Runs the command the arguments name.
///
/// # Errors
/// Whatever stops the command, as a message fit for `error: <message>`.
pub fn run(args: Args) -> Result<()> {
    match args.into_command() {
        Command::Train(t) => train::train(&t).map(|_| ()),
        Command::Export(e) => {
            let (files, crc) = weights::export(&e.checkpoint, &e.out)?;
            println!(
                "wrote {} .npy files and {} to {}",
                files.len() - 1,
                weights::EXPORT_FILE,
                e.out.display()
            );
            println!("parameters CRC-32: {crc:08x}");
            Ok(())
        }
        Command::Import(i) => {
            let (path, crc) = weights::import(&i.from, &i.out, i.config, i.force)?;
            println!("wrote {}", path.display());
            println!("parameters CRC-32: {crc:08x}");
            Ok(())
        }
        Command::Quantize(q) => quantize::quantize(&q).map(|_| ()),
        Command::Eval(e) => quantize::eval(&e).map(|_| ()),
        Command::Diagnose(d) => {
            let done = summary::rebuild::rebuild(&d.dir)?;
            println!("{}", summary::report::table(&done.tensors, &done.run));
            println!("{}\n", summary::report::answer(&done.tensors, &done.run));
            println!(
                "diagnosis report: {}",
                d.dir.join(summary::run::DIAGNOSIS_FILE).display()
            );
            Ok(())
        }
        Command::Ingest(i) => ingest::ingest(&i).map(|_| ()),
        Command::Bench(b) => bench::bench(&b).map(|_| ()),
    }
}

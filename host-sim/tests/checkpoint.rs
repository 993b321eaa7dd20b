//! Checkpoint files as other tools and older Valence builds see them; and the FULL network's
//! checkpoint size and write/load time (an ignored test that prints them).

use std::time::{Duration, Instant};

use host_sim::checkpoint::{Checkpoint, NamedTensor, OptimizerKind};
use kernels::net::ValenceConfig;

/// A FULL checkpoint as a run with Adam writes it: every parameter, both moments per parameter
/// and the two β powers.
fn full_adam_checkpoint() -> Checkpoint {
    let specs = ValenceConfig::FULL.params().unwrap();
    let tensor = |name: String, dims: &[usize], salt: u32| {
        let n = dims.iter().product::<usize>() as u32;
        let data = (0..n)
            .map(|j| (j % 1000) as f32 * 1e-3 + salt as f32)
            .collect();
        NamedTensor::new(name, dims.to_vec(), data).unwrap()
    };
    let params = specs
        .iter()
        .map(|s| tensor(s.name.to_owned(), s.dims(), 1))
        .collect();
    let mut slots: Vec<NamedTensor> = ["Adam", "Adam_1"]
        .iter()
        .flat_map(|slot| {
            specs
                .iter()
                .map(move |s| tensor(format!("{}/{slot}", s.name), s.dims(), 2))
        })
        .collect();
    slots.push(NamedTensor::new("beta1_power", vec![], vec![0.9]).unwrap());
    slots.push(NamedTensor::new("beta2_power", vec![], vec![0.999]).unwrap());
    Checkpoint {
        config: "full".into(),
        step: 1200,
        optimizer: OptimizerKind::Adam,
        rng: Vec::new(),
        data_position: 1200,
        attrs: vec![("seed".into(), "0".into())],
        params,
        slots,
    }
}

fn median(mut d: Vec<Duration>) -> Duration {
    d.sort();
    d[d.len() / 2]
}

/// Prints the FULL checkpoint's file size and median save (with its fsyncs) and load times:
/// `cargo test -p host-sim --test checkpoint -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a check: run it with --ignored --nocapture"]
fn full_checkpoint_size_and_time() {
    let ckpt = full_adam_checkpoint();
    let dir = tempfile::tempdir().unwrap();
    let (mut save, mut load) = (Vec::new(), Vec::new());
    let mut path = std::path::PathBuf::new();
    for _ in 0..7 {
        let t = Instant::now();
        path = ckpt.save(dir.path()).unwrap();
        save.push(t.elapsed());
        let t = Instant::now();
        let back = Checkpoint::load(dir.path()).unwrap();
        load.push(t.elapsed());
        assert_eq!(back.params.len(), ckpt.params.len());
    }
    let bytes = std::fs::metadata(&path).unwrap().len();
    println!(
        "{}: {bytes} bytes ({:.1} MiB), save {:.0} ms, load {:.0} ms (medians of 7)",
        path.file_name().unwrap().to_string_lossy(),
        bytes as f64 / (1 << 20) as f64,
        median(save).as_secs_f64() * 1e3,
        median(load).as_secs_f64() * 1e3,
    );
}

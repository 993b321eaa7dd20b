//! numpy itself reads the `.npy` files `host_sim::npy` writes, and `host_sim::npy` reads numpy's.
//!
//! Needs `python3` with numpy (`pip install -r .ci/requirements.txt`); without it the check is
//! skipped with a note, and fails under `VALENCE_REQUIRE_PYTHON=1` (as in CI).

mod common;

use host_sim::npy::{read, write};

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn numpy_reads_our_files_and_we_read_numpys() {
    let Some(mut py) = common::python(&["numpy"], "numpy reading and writing .npy files") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("ours.npy");
    let theirs = dir.path().join("theirs.npy");
    // Values whose bits would show any rounding: signed zero, subnormals, extremes, a NaN payload.
    let mut data = vec![
        0.0,
        -0.0,
        1.0,
        -1.5,
        f32::MIN_POSITIVE,
        1e-45,
        f32::MAX,
        f32::MIN,
        f32::INFINITY,
        f32::from_bits(0x7fc0_1234),
        0.1,
    ];
    data.extend((11..24).map(|i| (i as f32 * 0.37).sin() * 1e3));
    write(&ours, &[2, 3, 4], &data).unwrap();
    let script = "import sys, numpy as np\n\
        a = np.load(sys.argv[1])\n\
        assert a.dtype == np.float32 and a.shape == (2, 3, 4) and a.flags.c_contiguous\n\
        print(' '.join(str(int(b)) for b in a.view(np.uint32).ravel()))\n\
        b = np.arange(30, dtype=np.float32).reshape(5, 6) / 7\n\
        np.save(sys.argv[2], b)\n";
    let out = py
        .args(["-c", script])
        .arg(&ours)
        .arg(&theirs)
        .output()
        .expect("python3 ran a moment ago");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Vec<u32> = String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(seen, bits(&data));
    let b = read(&theirs).unwrap();
    assert_eq!(b.shape, vec![5, 6]);
    // Reference: numpy's float32 division is correctly rounded, as is Rust's.
    let expected: Vec<f32> = (0..30).map(|i| i as f32 / 7.0).collect();
    assert_eq!(bits(&b.data), bits(&expected));
}

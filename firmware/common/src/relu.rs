//! The ReLU layers' health on a summary step, as host-sim measures it: exact zeros after each
//! ReLU (`relu_zero_fraction/<layer>`) and channels or units that output zero for every frame of
//! the step (`dead_units/<layer>`), over all of the step's micro-batches.

use kernels::net::{Probe, MAX_LAYERS};

use crate::PLAN;

/// The widest ReLU layer a board tracks: one bit per channel or unit.
pub const MAX_WIDTH: usize = 64;

const _: () = {
    let Ok(plan) = crate::CONFIG.plan() else {
        panic!("TINY is a valid network")
    };
    let mut i = 0;
    while i < plan.layer_count() {
        assert!(
            plan.layer(i).output.c <= MAX_WIDTH,
            "a layer is wider than the alive bits"
        );
        i += 1;
    }
};

/// One layer's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Layer {
    /// Values seen after the ReLU.
    size: u64,
    /// Of them, exact zeros (`0.0` or `-0.0`).
    zeros: u64,
    /// Bit `c`: channel or unit `c` output something but zero.
    alive: u64,
}

/// Every ReLU layer's counts over one summary step, by table position.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReluStats {
    layers: [Layer; MAX_LAYERS],
}

impl ReluStats {
    /// Adds what `probe` shows; only post-ReLU outputs count.
    pub fn observe(&mut self, probe: Probe, values: &[f32]) {
        if !probe.is_relu_output() || probe.index >= PLAN.layer_count() {
            return;
        }
        let width = PLAN.layer(probe.index).output.c;
        let l = &mut self.layers[probe.index];
        l.size += values.len() as u64;
        for row in values.chunks(width.max(1)) {
            for (c, &v) in row.iter().enumerate() {
                if v == 0.0 {
                    l.zeros += 1;
                } else {
                    // NaN counts as alive, as on the host.
                    l.alive |= 1 << c;
                }
            }
        }
    }

    /// Logs every ReLU layer's counts at (0-based) step `step` (see [`crate::log`]).
    pub fn log(&self, step: u32) {
        for (l, c) in PLAN.layers().iter().zip(&self.layers) {
            if c.size == 0 {
                continue;
            }
            let width = l.output.c as u32;
            let dead = width - c.alive.count_ones();
            defmt::println!(
                "relu {=u32} {=str} zeros {=u64} of {=u64} dead {=u32} of {=u32}",
                step,
                l.layer.name,
                c.zeros,
                c.size,
                dead,
                width
            );
        }
    }
}

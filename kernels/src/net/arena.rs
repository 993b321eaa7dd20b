//! Where everything lives in the one `f32` arena: parameters, gradients, optimiser state, the
//! activations the backward pass needs, and scratch. All `const fn`, all checked.

use super::plan::{LayerGeometry, Plan, MAX_LAYERS};
use super::table::Network;
use crate::error::{add, mul, tri};
use crate::KernelError;

/// Which optimiser's state the arena holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum OptimizerKind {
    /// Plain SGD: no state.
    Sgd,
    /// SGD with momentum: one accumulator per parameter.
    Momentum,
    /// Adam: first and second moments per parameter, and `β1ᵗ`, `β2ᵗ`.
    Adam,
}

impl OptimizerKind {
    /// `f32`s of state per parameter.
    pub const fn slots(self) -> usize {
        match self {
            Self::Sgd => 0,
            Self::Momentum => 1,
            Self::Adam => 2,
        }
    }

    /// `f32`s of state besides the per-parameter slots: Adam's `β1ᵗ` and `β2ᵗ` (TensorFlow 1's
    /// `beta1_power` and `beta2_power`), after the slots.
    pub const fn scalars(self) -> usize {
        match self {
            Self::Sgd | Self::Momentum => 0,
            Self::Adam => 2,
        }
    }
}

/// A contiguous region of the arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Region {
    /// First index.
    pub offset: usize,
    /// Number of `f32`s.
    pub len: usize,
}

impl Region {
    const fn after(prev: Region, len: usize, arg: &'static str) -> Result<Region, KernelError> {
        let offset = tri!(add(arg, prev.offset, prev.len));
        let _end = tri!(add(arg, offset, len));
        Ok(Region { offset, len })
    }

    /// `offset + len`; saturates at `usize::MAX` for a hand-built region whose end does not fit
    /// (an [`ArenaLayout`]'s constructors refuse those).
    pub const fn end(&self) -> usize {
        self.offset.saturating_add(self.len)
    }
}

/// The arena of a training network (or, with [`ArenaLayout::inference`], of an inference one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ArenaLayout {
    /// Largest number of examples one forward/backward call takes.
    pub batch: usize,
    /// All parameters, in [`Network::params`] order.
    pub params: Region,
    /// Their gradients, same order (empty for inference).
    pub grads: Region,
    /// Optimiser state: `slots()` blocks of `params.len` each, then `scalars()` values (empty
    /// for inference).
    pub opt_state: Region,
    /// Activations: one slot per layer output of `len × batch` (training), or two ping-pong
    /// buffers (inference).
    pub activations: Region,
    /// Per-example length of each layer's output slot (the first `slots` entries).
    pub slot_len: [usize; MAX_LAYERS],
    /// Number of slots: the network's layers.
    pub slots: usize,
    /// The convolutions' shared im2col scratch (the largest `scratch_len`).
    pub scratch: Region,
    /// Two ping-pong buffers for activation gradients (empty for inference).
    pub grad_buffers: Region,
    /// Gradient of the loss w.r.t. the outputs (`batch × outputs`; empty for inference).
    pub d_pred: Region,
}

const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

impl ArenaLayout {
    /// The arena of a network that trains `batch` examples per call with optimiser `opt`.
    ///
    /// # Errors
    /// [`KernelError::Zero`] for `batch == 0`; [`Plan::new`]'s errors for `net`; [`KernelError::Overflow`]
    /// if the arena does not fit in `usize`.
    pub const fn training(
        net: &Network,
        batch: usize,
        opt: OptimizerKind,
    ) -> Result<Self, KernelError> {
        Self::build(net, batch, Some(opt))
    }

    /// The smaller arena of a network that only runs forward: parameters, two ping-pong
    /// activation buffers and the scratch.
    ///
    /// # Errors
    /// As [`ArenaLayout::training`].
    pub const fn inference(net: &Network, batch: usize) -> Result<Self, KernelError> {
        Self::build(net, batch, None)
    }

    const fn build(
        net: &Network,
        batch: usize,
        opt: Option<OptimizerKind>,
    ) -> Result<Self, KernelError> {
        let plan = tri!(Plan::new(net));
        Self::from_plan(&plan, batch, opt)
    }

    /// The layout of an already validated plan, so that a [`Net`](super::Net)
    /// plans its table once (a plan is kilobytes of a board's stack).
    pub(super) const fn from_plan(
        plan: &Plan,
        batch: usize,
        opt: Option<OptimizerKind>,
    ) -> Result<Self, KernelError> {
        if batch == 0 {
            return Err(KernelError::Zero { arg: "batch" });
        }
        let p = plan.param_len();
        let mut slot_len = [0; MAX_LAYERS];
        let mut total = 0;
        let mut largest = 0;
        let mut scratch = 0;
        let mut i = 0;
        while i < plan.layer_count() {
            let l = plan.layer(i);
            slot_len[i] = l.output_len();
            total = tri!(add("activations", total, slot_len[i]));
            largest = max(largest, slot_len[i]);
            if let LayerGeometry::Conv(c) = l.geometry {
                scratch = max(scratch, c.scratch_len());
            }
            i += 1;
        }
        let largest_batch = tri!(mul("activations", largest, batch));
        let outputs = tri!(mul("d_pred", plan.output_len(), batch));
        let start = Region { offset: 0, len: 0 };
        let params = tri!(Region::after(start, p, "params"));
        let (grads_len, opt_len, acts_len, grad_buf_len, d_pred_len) = match opt {
            Some(kind) => (
                p,
                tri!(add(
                    "opt_state",
                    tri!(mul("opt_state", p, kind.slots())),
                    kind.scalars()
                )),
                tri!(mul("activations", total, batch)),
                tri!(mul("grad_buffers", largest_batch, 2)),
                outputs,
            ),
            None => (0, 0, tri!(mul("activations", largest_batch, 2)), 0, 0),
        };
        let grads = tri!(Region::after(params, grads_len, "grads"));
        let opt_state = tri!(Region::after(grads, opt_len, "opt_state"));
        let activations = tri!(Region::after(opt_state, acts_len, "activations"));
        let scratch = tri!(Region::after(activations, scratch, "scratch"));
        let grad_buffers = tri!(Region::after(scratch, grad_buf_len, "grad_buffers"));
        let d_pred = tri!(Region::after(grad_buffers, d_pred_len, "d_pred"));
        // The arena's bytes must fit too, so that `bytes()` cannot overflow.
        let _bytes = tri!(mul(
            "arena bytes",
            d_pred.end(),
            core::mem::size_of::<f32>()
        ));
        Ok(Self {
            batch,
            params,
            grads,
            opt_state,
            activations,
            slot_len,
            slots: plan.layer_count(),
            scratch,
            grad_buffers,
            d_pred,
        })
    }

    /// Total `f32`s of the arena: the length of the slice a [`Net`](super::Net) takes.
    pub const fn arena_len(&self) -> usize {
        self.d_pred.end()
    }

    /// Total bytes of the arena; saturates at `usize::MAX` for a hand-built layout that the
    /// constructors would have refused (the fields are public).
    pub const fn bytes(&self) -> usize {
        self.arena_len().saturating_mul(core::mem::size_of::<f32>())
    }

    /// `true` for an inference-only layout.
    pub const fn is_inference(&self) -> bool {
        self.grads.len == 0
    }
}

/// Bytes the TINY network's whole training step needs on a board: the Adam arena for one-frame
/// micro-batches, the `u8` frame, and a stack allowance.
pub const TINY_TRAINING_BYTES: usize = {
    let layout = match ArenaLayout::training(&Network::TINY, 1, OptimizerKind::Adam) {
        Ok(l) => l,
        Err(_) => panic!("TINY must have a valid geometry"),
    };
    let frame = match Network::TINY.frame_len() {
        Ok(len) => len,
        Err(_) => panic!("TINY must have a valid input"),
    };
    layout.bytes() + frame + TINY_STACK_ALLOWANCE
};

/// Stack a board keeps beside the arena for the kernels' frames (the GEMM's stack buffers included).
pub const TINY_STACK_ALLOWANCE: usize = 16 * 1024;

/// A board's RAM budget for training TINY (the firmware's `memory.x` RAM length).
pub const TINY_RAM_BUDGET: usize = 256 * 1024;

const _: () = assert!(
    TINY_TRAINING_BYTES <= TINY_RAM_BUDGET,
    "TINY's Adam training step must fit in 256 KB"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_contiguous_and_sized() {
        let cfg = Network::TINY;
        let l = ArenaLayout::training(&cfg, 4, OptimizerKind::Adam).unwrap();
        let p = cfg.param_len().unwrap();
        assert_eq!(l.params, Region { offset: 0, len: p });
        assert_eq!(l.grads, Region { offset: p, len: p });
        assert_eq!(
            l.opt_state,
            Region {
                offset: 2 * p,
                len: 2 * p + 2
            }
        );
        assert_eq!(l.activations.offset, 4 * p + 2);
        assert_eq!(l.activations.len, 4 * l.slot_len.iter().sum::<usize>());
        assert_eq!(l.slot_len[0], 16 * 16 * 8);
        assert_eq!(l.slot_len[12], 1);
        // conv4/conv5 have the largest patch (3·3·16 = 144) times the tile of 16.
        assert_eq!(l.scratch.len, 144 * 16);
        assert_eq!(l.grad_buffers.len, 2 * 4 * 2048);
        assert_eq!(l.d_pred.len, 4);
        assert_eq!(l.arena_len(), l.d_pred.end());
    }

    #[test]
    fn inference_arena_is_smaller() {
        let cfg = Network::FULL;
        let t = ArenaLayout::training(&cfg, 8, OptimizerKind::Adam).unwrap();
        let i = ArenaLayout::inference(&cfg, 8).unwrap();
        assert!(i.is_inference() && !t.is_inference());
        assert_eq!(i.activations.len, 2 * 8 * 24 * 24 * 128);
        assert!(i.arena_len() * 3 < t.arena_len());
    }

    #[test]
    fn tiny_training_bytes_add_up() {
        // Counted by hand from the TINY shapes: 7561 parameters × 4 (value, gradient, m, v) and
        // Adam's two β powers;
        // activations 16·16·8 ×2, 7·7·8 ×3, 3·3·8, 3·3·16 ×3, 16 ×3, 1; scratch 3·3·16 × tile 16;
        // two gradient buffers of 16·16·8; one d_pred; then the 64·64·3 frame and 16 KiB of stack.
        let floats = 7561 * 4
            + 2
            + (2048 * 2 + 392 * 3 + 72 + 144 * 3 + 16 * 3 + 1)
            + 144 * 16
            + 2 * 2048
            + 1;
        assert_eq!(TINY_TRAINING_BYTES, floats * 4 + 64 * 64 * 3 + 16 * 1024);
        assert_eq!(TINY_TRAINING_BYTES, 198_560);
    }

    #[test]
    fn zero_batch_and_overflow_are_errors() {
        assert_eq!(
            ArenaLayout::training(&Network::TINY, 0, OptimizerKind::Sgd),
            Err(KernelError::Zero { arg: "batch" })
        );
        assert!(matches!(
            ArenaLayout::training(&Network::FULL, usize::MAX / 2, OptimizerKind::Adam),
            Err(KernelError::Overflow { .. })
        ));
    }
}

//! Instructions per multiply-accumulate of the int8 kernels on a Cortex-M4F (QEMU
//! `mps2-an386`, `-icount shift=0`): each case runs [`REPS`] times back to back through the
//! portable kernel and through the SMLAD one, prints both counts per MAC next to the target,
//! and checks that both paths wrote the same bytes. Exits with failure if any output differs
//! or any case misses its target.
#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::SYST;
use cortex_m_rt::entry;
use cortex_m_semihosting::debug::{self, EXIT_FAILURE, EXIT_SUCCESS};
use cortex_m_semihosting::hprintln;
use kernels::conv2d::Conv2d;
use kernels::dense::Dense;
use kernels::pool::Pool2d;
use kernels::quant::{
    conv2d_s8, conv2d_s8_smlad, conv2d_s8_smlad_cols_len, conv2d_s8_smlad_filter,
    conv2d_s8_smlad_scratch_len, dense_s8, dense_s8_smlad, dense_s8_smlad_cols_len,
    dense_s8_smlad_weights, max_pool_s8, max_pool_s8_simd, ActivationRange, LayerQuant,
    QuantizedMultiplier,
};
use kernels::rng::Rng;
use kernels::{Hwc, KernelError, Padding};

/// Calls timed per case and path: the SysTick count (1 tick = 40 instructions) then resolves
/// one instruction per call.
const REPS: u64 = 40;
/// SysTick counts the processor clock down from 2^24 − 1; under `-icount shift=0` one
/// instruction takes 1 ns and the mps2 clock is 25 MHz, so a tick is 40 instructions.
const INSTRUCTIONS_PER_TICK: u64 = 40;
const RELOAD: u32 = (1 << 24) - 1;

/// The largest buffers of the cases below.
const MAX_INPUT: usize = 64 * 64 * 3;
const MAX_OUTPUT: usize = 16 * 16 * 16;
const MAX_FILTER: usize = 256 * 64;
const MAX_SCRATCH: usize = 16 * 16 * 3 * 3 * 16;
const MAX_CHANNELS: usize = 64;

/// Instructions of `REPS` calls of `f`, reading SysTick after every call so that its 24-bit
/// wrap (every 671 M instructions) is never missed.
fn instructions(mut f: impl FnMut() -> Result<(), KernelError>) -> Result<u64, KernelError> {
    let mut last = SYST::get_current();
    let mut ticks = 0u64;
    for _ in 0..REPS {
        f()?;
        let now = SYST::get_current();
        ticks += u64::from(last.wrapping_sub(now) & RELOAD);
        last = now;
    }
    Ok(ticks * INSTRUCTIONS_PER_TICK)
}

/// One case's figures in hundredths of an instruction per MAC (or per window element).
struct Row {
    name: &'static str,
    macs: u64,
    portable: u64,
    fast: u64,
    /// The target, in hundredths.
    target: u64,
    equal: bool,
}

impl Row {
    fn new(name: &'static str, macs: usize, counts: [u64; 2], target: u64, equal: bool) -> Self {
        let per = |n: u64| n * 100 / (REPS * macs as u64);
        Self {
            name,
            macs: macs as u64,
            portable: per(counts[0]),
            fast: per(counts[1]),
            target,
            equal,
        }
    }

    fn ok(&self) -> bool {
        self.equal && self.fast <= self.target
    }

    fn print(&self) {
        let h = |v: u64| (v / 100, v % 100);
        let ((pi, pf), (fi, ff), (ti, tf)) = (h(self.portable), h(self.fast), h(self.target));
        hprintln!(
            "{:<44} {:>7} {:>5}.{:02} {:>5}.{:02} {:>4}.{:02}  {}",
            self.name,
            self.macs,
            pi,
            pf,
            fi,
            ff,
            ti,
            tf,
            match (self.equal, self.ok()) {
                (false, _) => "OUTPUTS DIFFER",
                (true, false) => "over target",
                (true, true) => "ok",
            }
        );
    }
}

/// `n` bytes from the kernels' RNG.
fn fill(rng: &mut Rng, v: &mut [i8]) {
    for b in v {
        *b = rng.next_u32() as i8;
    }
}

/// Requantisation of a case: per-channel multipliers around `scale`, an input zero point away
/// from 0 and the output zero point −128 (with the full range, that is a fused ReLU), as a
/// real layer's would look.
fn quant(channels: usize, scale: f64, m: &mut [QuantizedMultiplier]) -> LayerQuant {
    for (c, v) in m[..channels].iter_mut().enumerate() {
        *v = QuantizedMultiplier::from_real(scale * (1.0 + c as f64 / 64.0))
            .unwrap_or(QuantizedMultiplier::ZERO);
    }
    LayerQuant {
        input_zero_point: -3,
        output_zero_point: -128,
        range: ActivationRange::FULL,
    }
}

struct Buffers {
    input: [i8; MAX_INPUT],
    filter: [i8; MAX_FILTER],
    rearranged: [i8; MAX_FILTER],
    bias: [i32; MAX_CHANNELS],
    multipliers: [QuantizedMultiplier; MAX_CHANNELS],
    scratch: [i8; MAX_SCRATCH],
    cols: [i32; 256],
    portable: [i8; MAX_OUTPUT],
    fast: [i8; MAX_OUTPUT],
}

fn conv(
    b: &mut Buffers,
    rng: &mut Rng,
    name: &'static str,
    g: &Conv2d,
    target: u64,
) -> Result<Row, KernelError> {
    // Opaque to the optimiser, as a model's geometry is on a board: no constant lengths.
    let g = &black_box(*g);
    let (n_in, n_f, n_out, c) = (g.input_len(), g.filter_len(), g.output_len(), g.bias_len());
    fill(rng, &mut b.input[..n_in]);
    fill(rng, &mut b.filter[..n_f]);
    for (i, v) in b.bias[..c].iter_mut().enumerate() {
        *v = (i as i32 - 5) * 97;
    }
    let q = quant(c, 2e-3, &mut b.multipliers);
    conv2d_s8_smlad_filter(g, &b.filter[..n_f], &mut b.rearranged[..n_f])?;
    let (input, bias, m) = (&b.input[..n_in], &b.bias[..c], &b.multipliers[..c]);
    let portable = instructions(|| {
        conv2d_s8(
            g,
            &q,
            1,
            input,
            &b.filter[..n_f],
            bias,
            m,
            &mut b.scratch[..g.scratch_len()],
            &mut b.portable[..n_out],
        )
    })?;
    let fast = instructions(|| {
        conv2d_s8_smlad(
            g,
            &q,
            1,
            input,
            &b.rearranged[..n_f],
            bias,
            m,
            &mut b.scratch[..conv2d_s8_smlad_scratch_len(g)],
            &mut b.cols[..conv2d_s8_smlad_cols_len(g)],
            &mut b.fast[..n_out],
        )
    })?;
    let macs = g.output().h * g.output().w * n_f;
    let equal = b.portable[..n_out] == b.fast[..n_out];
    Ok(Row::new(name, macs, [portable, fast], target, equal))
}

fn dense(
    b: &mut Buffers,
    rng: &mut Rng,
    name: &'static str,
    g: &Dense,
    target: u64,
) -> Result<Row, KernelError> {
    // Opaque to the optimiser, as a model's geometry is on a board: no constant lengths.
    let g = &black_box(*g);
    let (n_in, n_w, n_out) = (g.inputs(), g.weights_len(), g.outputs());
    fill(rng, &mut b.input[..n_in]);
    fill(rng, &mut b.filter[..n_w]);
    for (i, v) in b.bias[..n_out].iter_mut().enumerate() {
        *v = (i as i32 - 9) * 131;
    }
    let q = quant(n_out, 1e-3, &mut b.multipliers);
    dense_s8_smlad_weights(g, &b.filter[..n_w], &mut b.rearranged[..n_w])?;
    let (input, bias, m) = (&b.input[..n_in], &b.bias[..n_out], &b.multipliers[..n_out]);
    let portable = instructions(|| {
        dense_s8(
            g,
            &q,
            1,
            input,
            &b.filter[..n_w],
            bias,
            m,
            &mut b.portable[..n_out],
        )
    })?;
    let fast = instructions(|| {
        dense_s8_smlad(
            g,
            &q,
            1,
            input,
            &b.rearranged[..n_w],
            bias,
            m,
            &mut b.cols[..dense_s8_smlad_cols_len(g)],
            &mut b.fast[..n_out],
        )
    })?;
    let equal = b.portable[..n_out] == b.fast[..n_out];
    Ok(Row::new(name, n_w, [portable, fast], target, equal))
}

fn pool(
    b: &mut Buffers,
    rng: &mut Rng,
    name: &'static str,
    g: &Pool2d,
    target: u64,
) -> Result<Row, KernelError> {
    // Opaque to the optimiser, as a model's geometry is on a board: no constant lengths.
    let g = &black_box(*g);
    let (n_in, n_out) = (g.input_len(), g.output_len());
    fill(rng, &mut b.input[..n_in]);
    let input = &b.input[..n_in];
    let portable = instructions(|| max_pool_s8(g, 1, input, &mut b.portable[..n_out]))?;
    let fast = instructions(|| max_pool_s8_simd(g, 1, input, &mut b.fast[..n_out]))?;
    let [kh, kw] = g.window();
    let equal = b.portable[..n_out] == b.fast[..n_out];
    Ok(Row::new(
        name,
        n_out * kh * kw,
        [portable, fast],
        target,
        equal,
    ))
}

fn run(syst: SYST) -> Result<bool, KernelError> {
    let _timer = start(syst);
    let mut b = Buffers {
        input: [0; MAX_INPUT],
        filter: [0; MAX_FILTER],
        rearranged: [0; MAX_FILTER],
        bias: [0; MAX_CHANNELS],
        multipliers: [QuantizedMultiplier::ZERO; MAX_CHANNELS],
        scratch: [0; MAX_SCRATCH],
        cols: [0; 256],
        portable: [0; MAX_OUTPUT],
        fast: [0; MAX_OUTPUT],
    };
    let mut rng = Rng::new(12, 5);
    let same = Padding::Same;
    let rows = [
        conv(
            &mut b,
            &mut rng,
            "(a) conv 16x16x16 -> 16, 3x3, stride 1, SAME",
            &Conv2d::new(Hwc::new(16, 16, 16), [3, 3], 16, [1, 1], same, 256)?,
            240,
        )?,
        conv(
            &mut b,
            &mut rng,
            "(b) conv 64x64x3 -> 8, 5x5, stride 4, SAME",
            &Conv2d::new(Hwc::new(64, 64, 3), [5, 5], 8, [4, 4], same, 256)?,
            520,
        )?,
        conv(
            &mut b,
            &mut rng,
            "(c) conv 7x7x16 -> 32, 3x3, SAME",
            &Conv2d::new(Hwc::new(7, 7, 16), [3, 3], 32, [1, 1], same, 49)?,
            220,
        )?,
        dense(
            &mut b,
            &mut rng,
            "(d) dense 256 -> 64",
            &Dense::new(256, 64)?,
            210,
        )?,
        pool(
            &mut b,
            &mut rng,
            "(e) max-pool 15x15x16, 3x3, stride 2, VALID",
            &Pool2d::new(Hwc::new(15, 15, 16), [3, 3], [2, 2], Padding::Valid)?,
            1000,
        )?,
    ];
    hprintln!(
        "instructions per MAC (per window element for the pool), QEMU -icount shift=0, {} calls each",
        REPS
    );
    hprintln!(
        "{:<44} {:>7} {:>8} {:>8} {:>7}",
        "case",
        "MACs",
        "portable",
        "dsp",
        "target"
    );
    let mut ok = true;
    for r in &rows {
        r.print();
        ok &= r.ok();
    }
    Ok(ok)
}

/// SysTick free-running over its whole 24-bit range on the core clock.
fn start(mut syst: SYST) -> SYST {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(RELOAD);
    syst.clear_current();
    syst.enable_counter();
    syst
}

#[entry]
fn main() -> ! {
    let status = match cortex_m::Peripherals::take() {
        None => {
            hprintln!("error: the core peripherals were already taken");
            EXIT_FAILURE
        }
        Some(p) => match run(p.SYST) {
            Ok(true) => EXIT_SUCCESS,
            Ok(false) => EXIT_FAILURE,
            Err(e) => {
                hprintln!("error: {:?}", e);
                EXIT_FAILURE
            }
        },
    };
    debug::exit(status);
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    hprintln!("panic: {}", info);
    debug::exit(EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}

//! Multi-scalar multiplication sum_i s_i P_i on G1 and G2: Pippenger's bucket method with
//! signed digits, whose buckets are summed in affine coordinates, all the additions of one
//! round sharing a single field inversion (Montgomery's trick).
//!
//! - Terms with a zero scalar or a point at infinity are dropped first (in Groth16, most wires
//!   are absent from B, so most of its points are infinity).
//! - A scalar above r/2 is replaced by r - s on the negated point, so every scalar is below
//!   2^253 and small negative witness values become small positive ones. (Exact in the
//!   prime-order groups; for a twist point outside G2, (r - s)(-P) = sP - rP.)
//! - Each scalar is cut into signed base-2^c digits in [-2^(c-1), 2^(c-1)]: window w puts
//!   +-P_i into bucket |d_w| - 1. A scalar of b bits has digits only in its first
//!   ceil((b+1)/c) windows, so small scalars cost few additions, and one window width c is
//!   chosen for the whole input from the histogram of its scalars' sizes.
//! - In a window, the points are sorted by bucket (a counting sort, a block of points the size
//!   of a core's L2 cache at a time, the sum so far first in each bucket the block touches,
//!   the others left in place), then every bucket's run is
//!   summed as a binary tree, level by level: the pairs of one level, across all buckets, are
//!   affine additions whose denominators share one inversion. No bucket can stall a batch, so a
//!   skewed digit distribution (every scalar 1, say) costs the same per addition as a uniform
//!   one.
//!
//! An affine addition then costs 5 multiplications and 1 squaring (3 of the multiplications are
//! the batched inversion's share), against 7 and 4 for the mixed Jacobian addition of the
//! textbook bucket method. This holds in Fq and in Fq2 alike, so G2 gets the same algorithm as
//! G1; a G2 addition is still about 3.5 G1 ones, the cost of Fq2 arithmetic over Fq. Inputs of
//! fewer terms than `small_msm` go to arkworks' projective MSM, which has no inversions.
//!
//! No endomorphism is used: the kernels accept any point on the twist curve (the subgroup check
//! is the pairing's business), and the G2 endomorphism acts as a scalar only inside G2.

use std::cmp::Reverse;

use ark_bn254::Fr;
use ark_ec::scalar_mul::variable_base::VariableBaseMSM;
use ark_ec::short_weierstrass::{Affine, Projective, SWCurveConfig};
use ark_ec::AffineRepr;
use ark_ff::{AdditiveGroup, BigInt, BigInteger, Field, PrimeField, Zero};
use rayon::prelude::*;

/// Bits of a scalar after the r - s reduction: every scalar is at most (r - 1)/2 < 2^253.
const MAX_BITS: usize = 253;

/// Window widths considered.
const MAX_WINDOW: usize = 20;

/// Cost of summing a window's buckets (one mixed and one Jacobian addition per bucket) in
/// batched affine additions, about the same ratio in Fq and Fq2.
const BUCKET_COST: usize = 4;

/// Pairs whose inversions are batched together: the inversion's share stays near 1% of the
/// additions while the scratch stays in cache.
const MAX_BATCH: usize = 2048;

/// Bytes of points a window sorts at a time, whatever its number of buckets (a block visits
/// only the buckets it touches): the sorted copy stays in a core's L2 cache. The buckets carry
/// from block to block as the first entries of their runs, which costs no extra addition:
/// summing m points takes m - 1 of them however they are grouped.
const BLOCK_BYTES: usize = 1 << 18;

/// Terms below which the windows run on the calling thread (tasks would cost more than they save).
const PARALLEL_TERMS: usize = 256;

/// sum_i scalars[i] * bases[i]; scalars are canonical integers below r.
pub fn msm<P: SWCurveConfig<ScalarField = Fr>>(bases: &[Affine<P>], scalars: &[BigInt<4>]) -> Projective<P> {
    let half_r = Fr::MODULUS_MINUS_ONE_DIV_TWO;
    // (index, bits, |s| after the r - s reduction, negated?) of the terms that add something
    let mut terms: Vec<(u32, usize, BigInt<4>, bool)> = (0..bases.len().min(scalars.len()))
        .into_par_iter()
        .filter(|&i| !scalars[i].is_zero() && !bases[i].is_zero())
        .map(|i| {
            let (s, negative) = if scalars[i] > half_r {
                (negated(&scalars[i]), true)
            } else {
                (scalars[i], false)
            };
            (i as u32, s.num_bits() as usize, s, negative)
        })
        .collect();
    if terms.is_empty() {
        return Projective::<P>::zero();
    }
    if terms.len() < small_msm::<P>() {
        let (small_bases, small_scalars): (Vec<Affine<P>>, Vec<BigInt<4>>) = terms
            .iter()
            .map(|&(i, ..)| (bases[i as usize], scalars[i as usize]))
            .unzip();
        return Projective::<P>::msm_bigint(&small_bases, &small_scalars);
    }
    let mut histogram = [0usize; MAX_BITS + 1];
    for &(_, bits, _, _) in &terms {
        histogram[bits] += 1;
    }
    let max_bits = (0..=MAX_BITS).rev().find(|&b| histogram[b] > 0).expect("a term");
    // an inversion costs about 30 affine additions in Fq, 10 in Fq2
    let inversion = if P::BaseField::extension_degree() == 1 { 30 } else { 10 };
    let c = window_bits(&histogram, max_bits, inversion);
    let windows = (max_bits + 1).div_ceil(c);
    // most windows first: the terms with a digit in window w are then a prefix, and terms with
    // as many windows keep their order, so that a window reads the bases in order (sorting by
    // bit length instead interleaves them, and the reads of the bases miss the cache)
    terms.par_sort_unstable_by_key(|&(i, bits, _, _)| (Reverse((bits + 1).div_ceil(c)), i));

    // the sign of a negated term goes into its digits, so the points are never copied for it
    let mut digits = vec![0i32; terms.len() * windows];
    digits
        .par_chunks_exact_mut(windows)
        .zip(terms.par_iter())
        .for_each(|(out, &(_, bits, s, negative))| {
            let own = &mut out[..(bits + 1).div_ceil(c)];
            signed_digits(&s, c, own);
            if negative {
                own.iter_mut().for_each(|d| *d = -*d);
            }
        });
    let points: Vec<u32> = terms.iter().map(|&(i, _, _, _)| i).collect();
    drop(terms);
    // window w holds digits of the terms of at least w*c bits
    let active = |w: usize| histogram[(w * c).min(MAX_BITS + 1)..].iter().sum::<usize>();

    // a window's points split into parts when there are too few windows to busy every thread
    let threads = rayon::current_num_threads();
    let parts = if windows >= 2 * threads || points.len() < PARALLEL_TERMS {
        1
    } else {
        (2 * threads)
            .div_ceil(windows)
            .min(points.len().div_ceil(PARALLEL_TERMS))
    };
    let task = |t: usize| {
        let (w, part) = (t / parts, t % parts);
        let len = active(w);
        let part_len = len.div_ceil(parts);
        let range = (part * part_len).min(len)..((part + 1) * part_len).min(len);
        window_sum(
            bases,
            &points[range.clone()],
            &digits[range.start * windows..],
            windows,
            w,
            c,
        )
    };
    let sums: Vec<Projective<P>> = if points.len() < PARALLEL_TERMS {
        (0..windows * parts).map(task).collect()
    } else {
        (0..windows * parts).into_par_iter().map(task).collect()
    };

    let mut total = Projective::<P>::zero();
    for window in sums.chunks_exact(parts).rev() {
        for _ in 0..c {
            total.double_in_place();
        }
        for sum in window {
            total += sum;
        }
    }
    total
}

/// Terms below which arkworks' projective MSM is faster: a window's fixed costs (an inversion
/// per tree level, the sort) are not yet shared by enough additions, sooner in Fq2, where an
/// addition costs more against an inversion.
fn small_msm<P: SWCurveConfig>() -> usize {
    if P::BaseField::extension_degree() == 1 {
        512
    } else {
        32
    }
}

fn negated(s: &BigInt<4>) -> BigInt<4> {
    let mut neg = Fr::MODULUS;
    neg.sub_with_borrow(s);
    neg
}

/// The window width c minimising the estimated cost, in affine additions: one per nonzero digit
/// (a b-bit scalar has at most ceil((b+1)/c)), `BUCKET_COST` per bucket of every window, and
/// `inversion` per inversion (one per level of a window's trees and per `MAX_BATCH` pairs), which
/// is what makes small inputs take wide windows.
fn window_bits(histogram: &[usize; MAX_BITS + 1], max_bits: usize, inversion: usize) -> usize {
    // at_least[b]: terms of at least b bits
    let mut at_least = [0usize; MAX_BITS + 2];
    for b in (0..=MAX_BITS).rev() {
        at_least[b] = at_least[b + 1] + histogram[b];
    }
    (1..=MAX_WINDOW)
        .min_by_key(|&c| {
            let buckets = 1usize << (c - 1);
            let windows = (max_bits + 1).div_ceil(c);
            let mut cost = windows * BUCKET_COST * buckets;
            for w in 0..windows {
                let terms = at_least[w * c];
                let levels = (terms.div_ceil(buckets) + 1).next_power_of_two().trailing_zeros() as usize;
                cost += terms + inversion * (levels + terms / (2 * MAX_BATCH));
            }
            cost
        })
        .expect("a non-empty range")
}

/// Signed base-2^c digits d_w in [-2^(c-1), 2^(c-1)] with s = sum d_w 2^(wc). The last window
/// takes no carry out when `out` has ceil((b+1)/c) windows for s < 2^b: its raw digit is then
/// below 2^(c-1).
fn signed_digits(s: &BigInt<4>, c: usize, out: &mut [i32]) {
    let mask = (1u64 << c) - 1;
    let half = 1i64 << (c - 1);
    let mut carry = 0i64;
    for (w, digit) in out.iter_mut().enumerate() {
        let bit = w * c;
        let (limb, offset) = (bit / 64, bit % 64);
        let mut raw = if limb < 4 { s.0[limb] >> offset } else { 0 };
        if offset + c > 64 && limb + 1 < 4 {
            raw |= s.0[limb + 1] << (64 - offset);
        }
        let v = (raw & mask) as i64 + carry;
        if v > half {
            *digit = (v - (1i64 << c)) as i32;
            carry = 1;
        } else {
            *digit = v as i32;
            carry = 0;
        }
    }
    debug_assert_eq!(carry, 0, "the windows cover the scalar and its last carry");
}

/// Window w of the points `points` (indices into `bases`; `digits` holds their `windows` digits
/// each, from the first of them): sum_b (b+1) * bucket_b, where bucket_b is the sum of the
/// points whose digit here is b+1, minus those whose digit is -(b+1).
fn window_sum<P: SWCurveConfig>(
    bases: &[Affine<P>],
    points: &[u32],
    digits: &[i32],
    windows: usize,
    w: usize,
    c: usize,
) -> Projective<P> {
    let buckets_len = 1usize << (c - 1);
    let mut buckets = vec![Affine::<P>::identity(); buckets_len];
    let mut tree = BucketTree::<P>::new(buckets_len);
    let block = (BLOCK_BYTES / std::mem::size_of::<Affine<P>>()).max(1024);
    for (b, block_points) in points.chunks(block).enumerate() {
        let block_digits = digits[b * block * windows..].iter().skip(w).step_by(windows);
        tree.sum_into(&mut buckets, bases, block_points.iter().zip(block_digits));
    }

    // running sums from the top bucket down give sum_b (b+1) * bucket_b
    let mut running = Projective::<P>::zero();
    let mut sum = Projective::<P>::zero();
    for bucket in buckets.iter().rev() {
        running += bucket;
        sum += &running;
    }
    sum
}

/// The sorted copy of a block's points and the scratch of the batched additions, kept across
/// blocks.
struct BucketTree<P: SWCurveConfig> {
    /// Bucket b's points at `start[b]..start[b] + len[b]` (with the bucket's previous value
    /// first), for the buckets in `touched`; `len` is zero for every other bucket.
    entries: Vec<Affine<P>>,
    start: Vec<u32>,
    len: Vec<u32>,
    touched: Vec<u32>,
    /// (bucket, live elements) of the runs still longer than one, for the current level.
    runs: Vec<(u32, u32)>,
    pairs: Vec<(usize, usize)>,
    products: Vec<P::BaseField>,
}

impl<P: SWCurveConfig> BucketTree<P> {
    fn new(buckets: usize) -> Self {
        BucketTree {
            entries: Vec::new(),
            start: vec![0; buckets],
            len: vec![0; buckets],
            touched: Vec::new(),
            runs: Vec::new(),
            pairs: Vec::with_capacity(MAX_BATCH),
            products: Vec::with_capacity(MAX_BATCH),
        }
    }

    /// buckets[b] += sum of the block's points with digit +-(b+1) (negated for a negative digit).
    /// A block is small enough for its sorted copy to stay in a core's cache, and only the
    /// buckets it touches are visited, so a window with many more buckets than a block's points
    /// costs per point, not per bucket.
    fn sum_into<'a>(
        &mut self,
        buckets: &mut [Affine<P>],
        bases: &[Affine<P>],
        block: impl Iterator<Item = (&'a u32, &'a i32)> + Clone,
    ) {
        // counting sort by bucket; a touched bucket's current value goes first in its run
        self.touched.clear();
        for (_, &d) in block.clone() {
            if d != 0 {
                let b = d.unsigned_abs() as usize - 1;
                if self.len[b] == 0 {
                    self.touched.push(b as u32);
                }
                self.len[b] += 1;
            }
        }
        let mut total = 0u32;
        for &b in &self.touched {
            let b = b as usize;
            if !buckets[b].is_zero() {
                self.len[b] += 1;
            }
            self.start[b] = total;
            total += self.len[b];
        }
        self.entries.clear();
        self.entries.resize(total as usize, Affine::<P>::identity());
        // start[b] moves along the run as it fills, and is set back below
        for &b in &self.touched {
            let b = b as usize;
            if !buckets[b].is_zero() {
                self.entries[self.start[b] as usize] = buckets[b];
                self.start[b] += 1;
            }
        }
        for (&i, &d) in block {
            if d != 0 {
                let b = d.unsigned_abs() as usize - 1;
                let p = bases[i as usize];
                self.entries[self.start[b] as usize] = if d < 0 { -p } else { p };
                self.start[b] += 1;
            }
        }
        for &b in &self.touched {
            let b = b as usize;
            self.start[b] -= self.len[b];
        }

        self.sum_runs();
        for &b in &self.touched {
            let b = b as usize;
            buckets[b] = self.entries[self.start[b] as usize];
            self.len[b] = 0;
        }
    }

    /// Sum every run into its first entry: at each level, the live elements of a run sit
    /// `stride` apart and neighbours are added pairwise into the first of the two, so an odd
    /// last element is already in place for the next level.
    fn sum_runs(&mut self) {
        self.runs.clear();
        let len = &self.len;
        self.runs.extend(
            self.touched
                .iter()
                .filter(|&&b| len[b as usize] > 1)
                .map(|&b| (b, len[b as usize])),
        );
        let mut stride = 1;
        while !self.runs.is_empty() {
            self.pairs.clear();
            for k in 0..self.runs.len() {
                let (b, live) = self.runs[k];
                let start = self.start[b as usize] as usize;
                for j in 0..live as usize / 2 {
                    let first = start + 2 * j * stride;
                    self.pairs.push((first, first + stride));
                    if self.pairs.len() == MAX_BATCH {
                        self.add_pairs();
                        self.pairs.clear();
                    }
                }
            }
            self.add_pairs();
            for run in self.runs.iter_mut() {
                run.1 = run.1.div_ceil(2);
            }
            self.runs.retain(|&(_, live)| live > 1);
            stride *= 2;
        }
    }

    /// entries[i] += entries[j] for every pair (i, j), with one inversion. The slope's
    /// denominator is x_j - x_i for distinct x, 2 y_i for a doubling; j = -i, or infinity on
    /// either side (a cancellation at an earlier level), needs none. (No point of either BN254
    /// curve has y = 0: the orders of G1 and of the whole twist curve are odd.)
    fn add_pairs(&mut self) {
        if self.pairs.is_empty() {
            return;
        }
        let entries = &mut self.entries;
        let one = P::BaseField::ONE;
        self.products.clear();
        let mut acc = one;
        for &(i, j) in &self.pairs {
            let (p, q) = (&entries[i], &entries[j]);
            self.products.push(acc);
            if !p.is_zero() && !q.is_zero() {
                if p.x != q.x {
                    acc *= q.x - p.x;
                } else if p.y == q.y {
                    acc *= p.y.double();
                }
            }
        }
        let mut inverse = acc.inverse().expect("the denominators are nonzero");
        for (k, &(i, j)) in self.pairs.iter().enumerate().rev() {
            let (p, q) = (entries[i], entries[j]);
            if p.is_zero() || q.is_zero() {
                if p.is_zero() {
                    entries[i] = q;
                }
                continue;
            }
            let (numerator, denominator) = if p.x != q.x {
                (q.y - p.y, q.x - p.x)
            } else if p.y == q.y {
                let xx = p.x.square();
                (xx.double() + xx + P::COEFF_A, p.y.double())
            } else {
                entries[i] = Affine::<P>::identity();
                continue;
            };
            // products[k] * inverse is this denominator's inverse; then step past it
            let lambda = numerator * (self.products[k] * inverse);
            inverse *= denominator;
            let x3 = lambda.square() - p.x - q.x;
            let y3 = lambda * (p.x - x3) - p.y;
            entries[i] = Affine::<P>::new_unchecked(x3, y3);
        }
    }
}

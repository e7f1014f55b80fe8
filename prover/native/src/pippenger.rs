//! Multi-scalar multiplication for large inputs: Pippenger's bucket method with signed digits,
//! whose buckets stay in affine coordinates and are updated a batch at a time, all the
//! additions of a batch sharing one field inversion (Montgomery's trick).
//!
//! An affine addition then costs about 6 base-field multiplications against about 10 for
//! the mixed additions arkworks accumulates with, and bucket accumulation is nearly all of an
//! MSM's work. Small inputs and small scalars go to arkworks' MSM instead, which is checked
//! against py_ecc in the tests like this one.

use ark_bn254::Fr;
use ark_ec::scalar_mul::variable_base::VariableBaseMSM;
use ark_ec::short_weierstrass::{Affine, Projective, SWCurveConfig};
use ark_ec::AffineRepr;
use ark_ff::{AdditiveGroup, BigInt, BigInteger, Field, PrimeField, Zero};
use rayon::prelude::*;

/// Below this many points the setup of a batched window does not pay off.
const MIN_POINTS: usize = 1 << 10;

/// Scalars are brought below r/2 < 2^253 by negating the point, so 254 bits hold every signed
/// digit expansion including the final carry.
const SCALAR_BITS: usize = 254;

/// The window width minimising the estimated cost in base-field multiplications: per window,
/// one affine addition (~6) per point plus two projective additions (~12 each) per bucket.
fn window_bits(n: usize) -> usize {
    (4..=20)
        .min_by_key(|&c| SCALAR_BITS.div_ceil(c) * (6 * n + 24 * (1usize << (c - 1))))
        .expect("a non-empty range")
}

/// Signed base-2^c digits d_w in [-2^(c-1), 2^(c-1)] with s = sum d_w 2^(wc), for s < 2^253.
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
    debug_assert_eq!(carry, 0, "scalar below 2^253 needs no digit past the last window");
}

/// sum_i scalars[i] * bases[i]; scalars are canonical integers below r.
pub fn msm<P: SWCurveConfig<ScalarField = Fr>>(bases: &[Affine<P>], scalars: &[BigInt<4>]) -> Projective<P> {
    if bases.len() < MIN_POINTS {
        return Projective::<P>::msm_bigint(bases, scalars);
    }
    // arkworks has dedicated paths for scalars of at most 64 bits either side of zero (most of a
    // witness), so only the full-size ones come here
    let full_size: Vec<usize> = (0..bases.len())
        .into_par_iter()
        .filter(|&i| scalars[i].num_bits() > 64 && negated(&scalars[i]).num_bits() > 64)
        .collect();
    if full_size.len() < MIN_POINTS {
        return Projective::<P>::msm_bigint(bases, scalars);
    }
    let mut is_full = vec![false; bases.len()];
    full_size.iter().for_each(|&i| is_full[i] = true);
    let (small_bases, small_scalars): (Vec<Affine<P>>, Vec<BigInt<4>>) = bases
        .par_iter()
        .zip(scalars.par_iter())
        .zip(is_full.par_iter())
        .filter(|(_, &full)| !full)
        .map(|((b, s), _)| (*b, *s))
        .unzip();
    let full_bases: Vec<Affine<P>> = full_size.par_iter().map(|&i| bases[i]).collect();
    let full_scalars: Vec<BigInt<4>> = full_size.par_iter().map(|&i| scalars[i]).collect();
    let (small, full) = rayon::join(
        || Projective::<P>::msm_bigint(&small_bases, &small_scalars),
        || batched_affine_msm(&full_bases, &full_scalars),
    );
    small + full
}

fn negated(s: &BigInt<4>) -> BigInt<4> {
    let mut neg = Fr::MODULUS;
    neg.sub_with_borrow(s);
    neg
}

/// Pippenger with batched affine buckets (see the module comment).
fn batched_affine_msm<P: SWCurveConfig<ScalarField = Fr>>(bases: &[Affine<P>], scalars: &[BigInt<4>]) -> Projective<P> {
    let n = bases.len();
    let c = window_bits(n);
    let windows = SCALAR_BITS.div_ceil(c);
    let half_r = Fr::MODULUS_MINUS_ONE_DIV_TWO;

    // s > r/2 becomes (r - s) times -P, which keeps every scalar below 2^253
    let mut points = bases.to_vec();
    let mut digits = vec![0i32; n * windows];
    points
        .par_iter_mut()
        .zip(digits.par_chunks_exact_mut(windows))
        .zip(scalars.par_iter())
        .for_each(|((point, out), s)| {
            if *s > half_r {
                *point = -*point;
                signed_digits(&negated(s), c, out);
            } else {
                signed_digits(s, c, out);
            }
        });

    let sums: Vec<Projective<P>> = (0..windows)
        .into_par_iter()
        .map(|w| window_sum(&points, &digits, windows, w, c))
        .collect();
    let mut total = Projective::<P>::zero();
    for sum in sums.iter().rev() {
        for _ in 0..c {
            total.double_in_place();
        }
        total += sum;
    }
    total
}

/// One window: sum_b (b+1) * bucket_b, where bucket_b collects the points whose digit here is
/// +-(b+1).
fn window_sum<P: SWCurveConfig>(
    points: &[Affine<P>],
    digits: &[i32],
    windows: usize,
    w: usize,
    c: usize,
) -> Projective<P> {
    let buckets_len = 1usize << (c - 1);
    let mut batch = AffineBatch::<P>::new(buckets_len);
    for (point, d) in points.iter().zip(digits.iter().skip(w).step_by(windows)) {
        let d = *d;
        if d == 0 || point.is_zero() {
            continue;
        }
        let p = if d < 0 { -*point } else { *point };
        batch.add(d.unsigned_abs() as usize - 1, p);
    }
    batch.flush();

    // running sums from the top bucket down give sum_b (b+1) * bucket_b
    let mut running = Projective::<P>::zero();
    let mut sum = Projective::<P>::zero();
    for b in (0..buckets_len).rev() {
        running += &batch.buckets[b];
        if !batch.overflow[b].is_zero() {
            running += &batch.overflow[b];
        }
        sum += &running;
    }
    sum
}

/// Affine buckets with a queue of pending additions, at most one per bucket, applied together.
struct AffineBatch<P: SWCurveConfig> {
    buckets: Vec<Affine<P>>,
    /// A second point for a bucket that already has one pending goes here instead (a mixed
    /// projective addition), so that a skewed digit distribution cannot stall the batches.
    overflow: Vec<Projective<P>>,
    /// Batch number in which each bucket last got a pending addition.
    stamp: Vec<u32>,
    batch: u32,
    pending: Vec<(usize, Affine<P>)>,
    capacity: usize,
    /// Scratch for the batched inversion.
    products: Vec<P::BaseField>,
}

impl<P: SWCurveConfig> AffineBatch<P> {
    fn new(buckets_len: usize) -> Self {
        // a quarter of the buckets per batch keeps collisions rare while amortising the inversion
        let capacity = (buckets_len / 4).clamp(16, 4096);
        AffineBatch {
            buckets: vec![Affine::<P>::identity(); buckets_len],
            overflow: vec![Projective::<P>::zero(); buckets_len],
            stamp: vec![0; buckets_len],
            batch: 1,
            pending: Vec::with_capacity(capacity),
            capacity,
            products: Vec::with_capacity(capacity),
        }
    }

    fn add(&mut self, b: usize, p: Affine<P>) {
        if self.stamp[b] == self.batch {
            self.overflow[b] += &p;
        } else if self.buckets[b].is_zero() {
            self.buckets[b] = p;
        } else {
            self.stamp[b] = self.batch;
            self.pending.push((b, p));
            if self.pending.len() == self.capacity {
                self.flush();
            }
        }
    }

    /// Apply every pending addition bucket + p with one inversion. The slope's denominator is
    /// x_p - x_q for distinct x, 2 y_q for a doubling; p = -q empties the bucket. (No point of
    /// either BN254 curve group has y = 0: their orders are odd.)
    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let one = P::BaseField::ONE;
        self.products.clear();
        let mut acc = one;
        for &(b, p) in &self.pending {
            let q = &self.buckets[b];
            let denominator = if p.x != q.x {
                p.x - q.x
            } else if p.y == q.y {
                q.y.double()
            } else {
                one
            };
            self.products.push(acc);
            acc *= denominator;
        }
        let mut inverse = acc.inverse().expect("denominators are nonzero");
        for (k, &(b, p)) in self.pending.iter().enumerate().rev() {
            let q = self.buckets[b];
            let (lambda, denominator) = if p.x != q.x {
                ((p.y - q.y), p.x - q.x)
            } else if p.y == q.y {
                let xx = q.x.square();
                (xx.double() + xx, q.y.double())
            } else {
                self.buckets[b] = Affine::<P>::identity();
                continue;
            };
            // products[k] * inverse is this denominator's inverse; then step past it
            let inv = self.products[k] * inverse;
            inverse *= denominator;
            let lambda = lambda * inv;
            let x3 = lambda.square() - q.x - p.x;
            let y3 = lambda * (q.x - x3) - q.y;
            self.buckets[b] = Affine::<P>::new_unchecked(x3, y3);
        }
        self.pending.clear();
        self.batch += 1;
    }
}

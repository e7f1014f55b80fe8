//! numpy arrays <-> arkworks values: the limb layouts of prover/kernels/__init__.py, argument
//! checking, and the ValueError messages that name the argument and the index at fault.

use std::borrow::Cow;

use ark_bn254::{g1, g2, Fq, Fq2, Fr, G1Affine, G2Affine};
use ark_ec::scalar_mul::variable_base::VariableBaseMSM;
use ark_ec::short_weierstrass::Projective;
use ark_ec::{AffineRepr, PrimeGroup};
use ark_ff::{BigInt, PrimeField};
use numpy::ndarray::{ArrayD, IxDyn};
use numpy::{Element, IntoPyArray, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use rayon::prelude::*;

/// 64-bit limbs per field element.
pub const LIMBS: usize = 4;

/// One argument of one kernel, so that every error names both.
#[derive(Clone, Copy)]
pub struct Arg {
    pub kernel: &'static str,
    pub name: &'static str,
}

impl Arg {
    pub const fn new(kernel: &'static str, name: &'static str) -> Self {
        Arg { kernel, name }
    }

    /// A ValueError about the whole argument.
    pub fn error(&self, what: impl std::fmt::Display) -> PyErr {
        PyValueError::new_err(format!("{}: {} {}", self.kernel, self.name, what))
    }

    /// A ValueError about entry `index` (along the first axis) of the argument.
    pub fn error_at(&self, index: usize, what: impl std::fmt::Display) -> PyErr {
        PyValueError::new_err(format!("{}: {}[{}] {}", self.kernel, self.name, index, what))
    }
}

/// A ValueError about the kernel call as a whole (e.g. mismatched lengths).
pub fn call_error(kernel: &str, what: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(format!("{kernel}: {what}"))
}

fn describe(obj: &Bound<'_, PyAny>) -> String {
    match obj.getattr("dtype") {
        Ok(dtype) => format!("an array of dtype {dtype}"),
        Err(_) => match obj.get_type().name() {
            Ok(name) => format!("{name}"),
            Err(_) => "another type".to_string(),
        },
    }
}

/// Borrow a numpy array of element type `T` (read-only arrays are fine).
pub fn input<'py, T: Element>(arg: Arg, obj: &Bound<'py, PyAny>, dtype: &str) -> PyResult<PyReadonlyArrayDyn<'py, T>> {
    match obj.downcast::<PyArrayDyn<T>>() {
        Ok(arr) => Ok(arr.readonly()),
        Err(_) => Err(PyTypeError::new_err(format!(
            "{}: {} must be a numpy {dtype} array, got {} (convert it with np.ascontiguousarray(x, dtype=np.{dtype}))",
            arg.kernel,
            arg.name,
            describe(obj)
        ))),
    }
}

/// The elements of an array in C order: the array's own memory when it is C-contiguous, else a copy.
pub fn c_order<'a, T: Element + Copy>(arr: &'a PyReadonlyArrayDyn<'_, T>) -> Cow<'a, [T]> {
    if arr.is_c_contiguous() {
        if let Ok(slice) = arr.as_slice() {
            return Cow::Borrowed(slice);
        }
    }
    Cow::Owned(arr.as_array().iter().copied().collect())
}

fn shape_text(shape: &[usize]) -> String {
    let parts: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    if parts.len() == 1 {
        format!("({},)", parts[0])
    } else {
        format!("({})", parts.join(", "))
    }
}

/// Check that `shape` is `(n, *tail)` and return n.
pub fn leading_len(arg: Arg, shape: &[usize], tail: &[usize]) -> PyResult<usize> {
    if shape.len() == tail.len() + 1 && &shape[1..] == tail {
        return Ok(shape[0]);
    }
    let mut want = vec!["n".to_string()];
    want.extend(tail.iter().map(|d| d.to_string()));
    Err(arg.error(format!(
        "must have shape ({}), got {}",
        want.join(", "),
        shape_text(shape)
    )))
}

/// Check that `shape` is exactly `want` (a single point).
pub fn exact_shape(arg: Arg, shape: &[usize], want: &[usize]) -> PyResult<()> {
    if shape == want {
        Ok(())
    } else {
        Err(arg.error(format!(
            "must have shape {}, got {}",
            shape_text(want),
            shape_text(shape)
        )))
    }
}

/// A new numpy uint64 array that takes ownership of `data` (no copy).
pub fn output<'py>(py: Python<'py>, data: Vec<u64>, shape: &[usize]) -> Bound<'py, PyArrayDyn<u64>> {
    ArrayD::from_shape_vec(IxDyn(shape), data)
        .expect("kernel output length matches its shape")
        .into_pyarray(py)
}

/// Records per rayon task. Below twice this a loop runs on the calling thread: a parallel
/// iterator that does not split never hands work to rayon's pool, and for a small input the
/// hand-over and the wait for it cost more than the work (the sumcheck's verifier and its
/// transcript make thousands of calls on a few elements each).
pub const MIN_TASK: usize = 1 << 12;

/// Convert every `stride`-limb record of `data` with `parse`, in parallel. On failure the
/// error names the first bad record, so that messages do not depend on thread timing.
pub fn parse_all<T: Send>(
    arg: Arg,
    data: &[u64],
    stride: usize,
    parse: impl Fn(&[u64]) -> Result<T, &'static str> + Sync + Send,
) -> PyResult<Vec<T>> {
    match data
        .par_chunks_exact(stride)
        .with_min_len(MIN_TASK)
        .map(&parse)
        .collect::<Result<Vec<T>, &str>>()
    {
        Ok(values) => Ok(values),
        Err(_) => {
            let (index, what) = data
                .chunks_exact(stride)
                .enumerate()
                .find_map(|(i, rec)| parse(rec).err().map(|e| (i, e)))
                .expect("a record failed to parse in parallel but not sequentially");
            Err(arg.error_at(index, what))
        }
    }
}

/// Check every `stride`-limb record without converting it.
pub fn check_all(
    arg: Arg,
    data: &[u64],
    stride: usize,
    check: impl Fn(&[u64]) -> Result<(), &'static str> + Sync + Send,
) -> PyResult<()> {
    match data
        .par_chunks_exact(stride)
        .with_min_len(MIN_TASK)
        .position_first(|rec| check(rec).is_err())
    {
        None => Ok(()),
        Some(index) => Err(arg.error_at(index, check(&data[index * stride..(index + 1) * stride]).unwrap_err())),
    }
}

// --- field elements -------------------------------------------------------------------------

pub const NOT_FR: &str = "is not below the scalar field modulus r (reduce it mod r first)";
pub const NOT_FQ: &str = "is not below the base field modulus q (reduce it mod q first)";
const COORD_NOT_FQ: &str = "has a coordinate not below the base field modulus q";
const NOT_ON_G1: &str = "is not on the BN254 G1 curve y^2 = x^3 + 3 (the point at infinity is all zeros)";
const NOT_ON_G2: &str = "is not on the BN254 G2 twist curve (the point at infinity is all zeros)";

pub fn bigint(limbs: &[u64]) -> BigInt<4> {
    BigInt([limbs[0], limbs[1], limbs[2], limbs[3]])
}

/// Is the little-endian limb value below `modulus`?
pub fn below(limbs: &[u64], modulus: &BigInt<4>) -> bool {
    for i in (0..LIMBS).rev() {
        if limbs[i] != modulus.0[i] {
            return limbs[i] < modulus.0[i];
        }
    }
    false
}

/// A canonical Fr value, kept as an integer (MSM scalars are consumed as integers).
pub fn fr_int(limbs: &[u64]) -> Result<BigInt<4>, &'static str> {
    if below(limbs, &Fr::MODULUS) {
        Ok(bigint(limbs))
    } else {
        Err(NOT_FR)
    }
}

pub fn fr(limbs: &[u64]) -> Result<Fr, &'static str> {
    Fr::from_bigint(bigint(limbs)).ok_or(NOT_FR)
}

pub fn fq(limbs: &[u64]) -> Result<Fq, &'static str> {
    Fq::from_bigint(bigint(limbs)).ok_or(NOT_FQ)
}

/// An Fq value from its Montgomery form v R mod q (as a .zkey stores it), which is arkworks'
/// own representation: no multiplication.
pub fn fq_montgomery(limbs: &[u64]) -> Result<Fq, &'static str> {
    if below(limbs, &Fq::MODULUS) {
        Ok(Fq::new_unchecked(bigint(limbs)))
    } else {
        Err(NOT_FQ)
    }
}

/// How a point's coordinates are given: canonical limbs, or their Montgomery forms.
pub type Coordinate = fn(&[u64]) -> Result<Fq, &'static str>;

/// Canonical limbs of Fr elements, in parallel.
pub fn fr_limbs(values: &[Fr]) -> Vec<u64> {
    let mut out = vec![0u64; values.len() * LIMBS];
    out.par_chunks_exact_mut(LIMBS)
        .zip(values.par_iter())
        .with_min_len(MIN_TASK)
        .for_each(|(o, v)| o.copy_from_slice(&v.into_bigint().0));
    out
}

// --- curve points ---------------------------------------------------------------------------

/// A BN254 group with its array layout; implemented for G1 and G2 so that every point kernel
/// is written once.
pub trait Curve: VariableBaseMSM<ScalarField = Fr> {
    /// Shape of one point in an array.
    const POINT_SHAPE: &'static [usize];
    /// Limbs per point.
    const POINT_LIMBS: usize;
    /// A point from its limbs (all zeros = infinity); an error if off the curve.
    fn parse(limbs: &[u64]) -> Result<Self::MulBase, &'static str> {
        Self::parse_with(limbs, fq)
    }
    /// The same with the coordinates read by `coord`.
    fn parse_with(limbs: &[u64], coord: Coordinate) -> Result<Self::MulBase, &'static str>;
    /// A point into its limbs.
    fn write(point: &Self::MulBase, out: &mut [u64]);
    /// sum_i scalars[i] * bases[i] (scalars canonical, below r).
    fn multi_scalar_mul(bases: &[Self::MulBase], scalars: &[BigInt<4>]) -> Self;
    /// s * point for a full-size scalar s.
    fn mul_full(point: &Self::MulBase, s: &BigInt<4>) -> Self;
}

fn all_zero(limbs: &[u64]) -> bool {
    limbs.iter().all(|&l| l == 0)
}

// (the concrete curve configs, because G1Projective/G2Projective are projections the
// compiler cannot tell apart)
impl Curve for Projective<g1::Config> {
    const POINT_SHAPE: &'static [usize] = &[2, 4];
    const POINT_LIMBS: usize = 8;

    fn parse_with(limbs: &[u64], coord: Coordinate) -> Result<G1Affine, &'static str> {
        if all_zero(limbs) {
            return Ok(G1Affine::identity());
        }
        let x = coord(&limbs[0..4]).map_err(|_| COORD_NOT_FQ)?;
        let y = coord(&limbs[4..8]).map_err(|_| COORD_NOT_FQ)?;
        let p = G1Affine::new_unchecked(x, y);
        // G1 has cofactor 1, so being on the curve is being in the group
        if p.is_on_curve() {
            Ok(p)
        } else {
            Err(NOT_ON_G1)
        }
    }

    fn multi_scalar_mul(bases: &[G1Affine], scalars: &[BigInt<4>]) -> Self {
        crate::pippenger::msm(bases, scalars)
    }

    fn mul_full(point: &G1Affine, s: &BigInt<4>) -> Self {
        // ark-bn254 multiplies projective G1 points with the GLV endomorphism: half the
        // doublings (sound on all of G1, whose cofactor is 1)
        Self::from(*point).mul_bigint(s)
    }

    fn write(point: &G1Affine, out: &mut [u64]) {
        match point.xy() {
            None => out.fill(0),
            Some((x, y)) => {
                out[0..4].copy_from_slice(&x.into_bigint().0);
                out[4..8].copy_from_slice(&y.into_bigint().0);
            }
        }
    }
}

impl Curve for Projective<g2::Config> {
    const POINT_SHAPE: &'static [usize] = &[2, 2, 4];
    const POINT_LIMBS: usize = 16;

    fn parse_with(limbs: &[u64], coord: Coordinate) -> Result<G2Affine, &'static str> {
        if all_zero(limbs) {
            return Ok(G2Affine::identity());
        }
        let c = |i: usize| coord(&limbs[4 * i..4 * i + 4]).map_err(|_| COORD_NOT_FQ);
        let p = G2Affine::new_unchecked(Fq2::new(c(0)?, c(1)?), Fq2::new(c(2)?, c(3)?));
        // the subgroup check is the pairing's business: outside G2 an MSM may add multiples of
        // r P (see pippenger.rs), which only makes a proof from such a key fail to verify
        if p.is_on_curve() {
            Ok(p)
        } else {
            Err(NOT_ON_G2)
        }
    }

    fn multi_scalar_mul(bases: &[G2Affine], scalars: &[BigInt<4>]) -> Self {
        crate::pippenger::msm(bases, scalars)
    }

    fn mul_full(point: &G2Affine, s: &BigInt<4>) -> Self {
        // double-and-add with mixed additions: the GLV endomorphism would be wrong for twist
        // points outside G2, which these kernels accept
        point.mul_bigint(s)
    }

    fn write(point: &G2Affine, out: &mut [u64]) {
        match point.xy() {
            None => out.fill(0),
            Some((x, y)) => {
                for (i, c) in [x.c0, x.c1, y.c0, y.c1].iter().enumerate() {
                    out[4 * i..4 * i + 4].copy_from_slice(&c.into_bigint().0);
                }
            }
        }
    }
}

/// Parse an `(n, *point)` array of points.
pub fn points<G: Curve>(arg: Arg, data: &[u64]) -> PyResult<Vec<G::MulBase>> {
    parse_all(arg, data, G::POINT_LIMBS, G::parse)
}

/// Limbs of many projective points (one batched inversion to go affine).
pub fn point_limbs<G: Curve>(values: &[G]) -> Vec<u64> {
    affine_limbs::<G>(&G::batch_convert_to_mul_base(values))
}

/// Limbs of many affine points.
pub fn affine_limbs<G: Curve>(affine: &[G::MulBase]) -> Vec<u64> {
    let mut out = vec![0u64; affine.len() * G::POINT_LIMBS];
    out.par_chunks_exact_mut(G::POINT_LIMBS)
        .zip(affine.par_iter())
        .with_min_len(MIN_TASK)
        .for_each(|(o, p)| G::write(p, o));
    out
}

/// Shape `(n, *point)`.
pub fn points_shape<G: Curve>(n: usize) -> Vec<usize> {
    let mut shape = vec![n];
    shape.extend_from_slice(G::POINT_SHAPE);
    shape
}

#!/usr/bin/env bash
# Build rapidsnark's Groth16 `prover` binary the way groth16_prove.py's RAPIDSNARK_BUILD
# describes it: iden3/rapidsnark v0.0.5 (5b06dc02f3b4), CMake target `prover`,
# CMAKE_BUILD_TYPE=Release, USE_ASM=ON (x86_64 nasm Fr/Fq), USE_OPENMP=ON, linked against the
# static libgmp.a from Debian's libgmp-dev instead of the GMP that build_gmp.sh would download.
#
#   benchmarks/build_rapidsnark.sh SRC_DIR [OUTPUT]     (OUTPUT defaults to /tmp/rapidsnark/prover)
#
# SRC_DIR is a checked-out rapidsnark tree with its submodules in place (depends/ffiasm,
# depends/json; depends/circom_runtime and depends/pistache are not used by this target).
# It is not modified: the build runs on a copy in a temporary directory, and the binary is
# moved onto OUTPUT only once it is complete.
#
# Needs: cmake, g++ (with its libgomp), nasm, libgmp-dev. Environment: JOBS (default 2),
# GMP_LIB_A and GMP_H to use another static GMP than Debian's.
#
# There is no npm / ffiasm step: at v0.0.5 the CMake build compiles the Fr/Fq sources committed
# in the tree's build/ directory (fr.asm, fq.asm, fr.cpp, ...) and does not run ffiasm's
# generator. (Regenerating them with the recorded ffiasm commit gives different, older code,
# e.g. without the PIC branch in fr.asm that `nasm -DPIC` uses, so it would not be the same build.)
set -euo pipefail

SRC=${1:?usage: $0 SRC_DIR [OUTPUT]}
OUT=${2:-/tmp/rapidsnark/prover}
JOBS=${JOBS:-2}

# --- check the host and the tools ---------------------------------------------------------
# the x86_64 assembly (USE_ASM on a host build) only assembles and runs on x86_64
[ "$(uname -m)" = x86_64 ] || { echo "error: needs an x86_64 host" >&2; exit 1; }
for tool in cmake g++ nasm; do
    command -v "$tool" >/dev/null || { echo "error: $tool not found" >&2; exit 1; }
done

# Debian's libgmp-dev puts the static library and the (architecture-specific) header under the
# multiarch directories
MULTIARCH=$(g++ -print-multiarch)
GMP_LIB_A=${GMP_LIB_A:-/usr/lib/$MULTIARCH/libgmp.a}
GMP_H=${GMP_H:-/usr/include/$MULTIARCH/gmp.h}
for f in "$GMP_LIB_A" "$GMP_H"; do
    [ -f "$f" ] || { echo "error: $f not found (install libgmp-dev)" >&2; exit 1; }
done

# --- check the source tree ------------------------------------------------------------------
SRC=$(cd "$SRC" && pwd)
for f in CMakeLists.txt src/main_prover.cpp build/fr.asm build/fq.asm \
         depends/ffiasm/c/alt_bn128.cpp depends/json/single_include/nlohmann/json.hpp; do
    [ -f "$SRC/$f" ] || { echo "error: $SRC/$f missing (submodules not in place?)" >&2; exit 1; }
done

# --- copy the tree to a scratch directory ---------------------------------------------------
# (the build writes fr_asm.o / fq_asm.o into the tree's build/ directory, and GMP is placed
# inside the tree below; working on a copy leaves SRC as it was)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/rapidsnark-build.XXXXXX")
TMP_OUT=
trap 'rm -rf "$WORK"; [ -z "$TMP_OUT" ] || rm -f "$TMP_OUT"' EXIT
cp -a "$SRC" "$WORK/src"
rm -rf "$WORK/src/build_prover" "$WORK/src/depends/gmp/package"

# --- put the system GMP where rapidsnark's CMake looks for it --------------------------------
# cmake/platform.cmake links ${CMAKE_SOURCE_DIR}/depends/gmp/package/lib/libgmp.a and includes
# depends/gmp/package/include, which is where `build_gmp.sh host` would install a downloaded
# GMP. Without them it falls back to `-lgmp` (the shared library), so link Debian's files in.
mkdir -p "$WORK/src/depends/gmp/package/include" "$WORK/src/depends/gmp/package/lib"
ln -s "$GMP_H" "$WORK/src/depends/gmp/package/include/gmp.h"
ln -s "$GMP_LIB_A" "$WORK/src/depends/gmp/package/lib/libgmp.a"

# --- configure --------------------------------------------------------------------------------
# the README's host build (cmake .. -DCMAKE_BUILD_TYPE=Release), with the two options that
# default to ON spelled out
cmake -S "$WORK/src" -B "$WORK/src/build_prover" \
    -DCMAKE_BUILD_TYPE=Release -DUSE_ASM=ON -DUSE_OPENMP=ON 2>&1 | tee "$WORK/configure.log"
# CMake only warns when it cannot find GMP where it looks, and OpenMP is optional to it:
# refuse both fallbacks
if grep -q "is not found and so system" "$WORK/configure.log"; then
    echo "error: CMake did not pick up the static GMP" >&2; exit 1
fi
grep -q "^OpenMP is used" "$WORK/configure.log" || { echo "error: OpenMP not found" >&2; exit 1; }

# --- build the prover target only -------------------------------------------------------------
cmake --build "$WORK/src/build_prover" --target prover --parallel "$JOBS"
BIN="$WORK/src/build_prover/src/prover"

# --- check the result: libgmp linked in statically -------------------------------------------
# (ldd's output is kept first: `ldd | grep -q` can fail under pipefail when grep exits early.)
# libgomp is not expected among the libraries: with USE_OPENMP=ON the sources are compiled with
# -fopenmp and libgomp is on the link line, but at v0.0.5 the prover parallelises with ffiasm's
# ThreadPool (std::thread) and calls no OpenMP runtime function, so the linker drops libgomp.
LIBS=$(ldd "$BIN")
if grep -q libgmp <<<"$LIBS"; then
    echo "error: prover links libgmp dynamically" >&2; exit 1
fi

# --- install atomically: copy next to OUTPUT, then rename over it ----------------------------
mkdir -p "$(dirname "$OUT")"
TMP_OUT=$(mktemp "$(dirname "$OUT")/.prover.XXXXXX")
cp "$BIN" "$TMP_OUT"
chmod 755 "$TMP_OUT"
mv -f "$TMP_OUT" "$OUT"
TMP_OUT=
echo "built $OUT"
sha256sum "$OUT"

// Command gnark_peer times gnark's Groth16 prover on the benchmark's own R1CS and witness.
//
//	gnark_peer -r1cs circuit.r1cs -wtns witness.wtns [-repeat N]
//
// It reads the circom-format .r1cs and .wtns that benchmarks/groth16_prove.py writes and builds
// the same constraint system with gnark's constraint/bn254 builder: wire 0 is gnark's constant
// "1", the outputs and public inputs are gnark's public variables in the same order, and every
// other wire is a gnark secret variable. With every wire given, gnark's solver only checks the
// constraints (it still computes A·w, B·w and C·w, which the proof needs). gnark's Setup runs
// once and is not timed; then Prove runs N times and the best is kept. Each proof is checked
// with gnark's Verify. One JSON object is printed on standard output.
package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/backend/witness"
	"github.com/consensys/gnark/constraint"
	cs "github.com/consensys/gnark/constraint/bn254"
	"github.com/consensys/gnark/logger"
)

// term is one wire of a linear combination, with its coefficient in normal form.
type term struct {
	wire  uint32
	coeff fr.Element
}

type r1csFile struct {
	nWires, nOutputs, nPublicInputs, nPrivateInputs uint32
	constraints                                     [][3][]term
}

// sections splits a circom binary file (magic, version, then typed sections) by section type.
func sections(data []byte, magic string) (map[uint32][]byte, error) {
	if len(data) < 12 || string(data[:4]) != magic {
		return nil, fmt.Errorf("not a %s file", magic)
	}
	n := binary.LittleEndian.Uint32(data[8:12])
	out := make(map[uint32][]byte, n)
	pos := uint64(12)
	for i := uint32(0); i < n; i++ {
		if pos+12 > uint64(len(data)) {
			return nil, errors.New("truncated section header")
		}
		kind := binary.LittleEndian.Uint32(data[pos:])
		size := binary.LittleEndian.Uint64(data[pos+4:])
		pos += 12
		if pos+size > uint64(len(data)) {
			return nil, errors.New("truncated section")
		}
		out[kind] = data[pos : pos+size]
		pos += size
	}
	return out, nil
}

// element reads a 32-byte little-endian field element in normal form.
func element(b []byte) (fr.Element, error) {
	var buf [fr.Bytes]byte
	copy(buf[:], b[:fr.Bytes])
	return fr.LittleEndian.Element(&buf)
}

// checkPrime reads a section's field header (n8, then the prime) and checks that it is BN254's Fr.
func checkPrime(header []byte) error {
	if len(header) < 4+fr.Bytes || binary.LittleEndian.Uint32(header) != fr.Bytes {
		return errors.New("field elements are not 32 bytes")
	}
	var q [fr.Bytes]byte
	copy(q[:], header[4:4+fr.Bytes])
	for i, j := 0, fr.Bytes-1; i < j; i, j = i+1, j-1 {
		q[i], q[j] = q[j], q[i]
	}
	var modulus [fr.Bytes]byte
	fr.Modulus().FillBytes(modulus[:])
	if q != modulus {
		return errors.New("the field is not BN254's scalar field")
	}
	return nil
}

// headerAndBody reads a circom binary file's section 1 (whose field must be BN254's Fr) and 2.
func headerAndBody(path, magic string) (header, body []byte, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	secs, err := sections(data, magic)
	if err != nil {
		return nil, nil, err
	}
	header, body = secs[1], secs[2]
	if header == nil || body == nil {
		return nil, nil, fmt.Errorf("%s file without its sections 1 and 2", magic)
	}
	return header, body, checkPrime(header)
}

func readR1CS(path string) (*r1csFile, error) {
	header, body, err := headerAndBody(path, "r1cs")
	if err != nil {
		return nil, err
	}
	h := header[4+fr.Bytes:]
	r := &r1csFile{
		nWires:         binary.LittleEndian.Uint32(h[0:]),
		nOutputs:       binary.LittleEndian.Uint32(h[4:]),
		nPublicInputs:  binary.LittleEndian.Uint32(h[8:]),
		nPrivateInputs: binary.LittleEndian.Uint32(h[12:]),
	}
	nConstraints := binary.LittleEndian.Uint32(h[24:]) // after the u64 label count
	r.constraints = make([][3][]term, nConstraints)
	pos := 0
	for c := range r.constraints {
		for side := 0; side < 3; side++ {
			if pos+4 > len(body) {
				return nil, errors.New("truncated constraints section")
			}
			n := int(binary.LittleEndian.Uint32(body[pos:]))
			pos += 4
			if pos+n*(4+fr.Bytes) > len(body) {
				return nil, errors.New("truncated constraints section")
			}
			terms := make([]term, n)
			for t := range terms {
				terms[t].wire = binary.LittleEndian.Uint32(body[pos:])
				if terms[t].coeff, err = element(body[pos+4:]); err != nil {
					return nil, err
				}
				pos += 4 + fr.Bytes
			}
			r.constraints[c][side] = terms
		}
	}
	return r, nil
}

func readWtns(path string) ([]fr.Element, error) {
	header, body, err := headerAndBody(path, "wtns")
	if err != nil {
		return nil, err
	}
	n := int(binary.LittleEndian.Uint32(header[4+fr.Bytes:]))
	if len(body) != n*fr.Bytes {
		return nil, errors.New("wtns values section has the wrong size")
	}
	values := make([]fr.Element, n)
	for i := range values {
		if values[i], err = element(body[i*fr.Bytes:]); err != nil {
			return nil, err
		}
	}
	return values, nil
}

// build makes the gnark R1CS: circom wire i is gnark wire i (public first, then secret).
func build(r *r1csFile) *cs.R1CS {
	system := cs.NewR1CS(len(r.constraints))
	nPublic := 1 + int(r.nOutputs+r.nPublicInputs)
	system.AddPublicVariable("1")
	for i := 1; i < nPublic; i++ {
		system.AddPublicVariable(fmt.Sprintf("w%d", i))
	}
	for i := nPublic; i < int(r.nWires); i++ {
		system.AddSecretVariable(fmt.Sprintf("w%d", i))
	}
	gate := system.AddBlueprint(&constraint.BlueprintGenericR1C{})
	expr := func(terms []term) constraint.LinearExpression {
		le := make(constraint.LinearExpression, len(terms))
		for i, t := range terms {
			var c constraint.U64
			copy(c[:], t.coeff[:])
			le[i] = system.MakeTerm(c, int(t.wire))
		}
		return le
	}
	for _, c := range r.constraints {
		system.AddR1C(constraint.R1C{L: expr(c[0]), R: expr(c[1]), O: expr(c[2])}, gate)
	}
	return system
}

func fill(values []fr.Element, nPublic int, publicOnly bool) (witness.Witness, error) {
	w, err := witness.New(ecc.BN254.ScalarField())
	if err != nil {
		return nil, err
	}
	rest := values[1:] // gnark's "1" is not part of the witness vector
	nSecret := len(rest) - (nPublic - 1)
	if publicOnly {
		rest, nSecret = rest[:nPublic-1], 0
	}
	ch := make(chan any, 1024)
	go func() {
		for i := range rest {
			ch <- rest[i]
		}
		close(ch)
	}()
	return w, w.Fill(nPublic-1, nSecret, ch)
}

func moduleVersion(path string) string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == path {
				return dep.Version
			}
		}
	}
	return "unknown"
}

func run() error {
	r1csPath := flag.String("r1cs", "", "circom .r1cs file")
	wtnsPath := flag.String("wtns", "", "circom .wtns file")
	repeat := flag.Int("repeat", 1, "Prove runs (best kept)")
	flag.Parse()
	if *r1csPath == "" || *wtnsPath == "" || *repeat < 1 {
		flag.Usage()
		return errors.New("-r1cs and -wtns are required, -repeat at least 1")
	}
	logger.Disable()

	start := time.Now()
	r, err := readR1CS(*r1csPath)
	if err != nil {
		return fmt.Errorf("%s: %w", *r1csPath, err)
	}
	values, err := readWtns(*wtnsPath)
	if err != nil {
		return fmt.Errorf("%s: %w", *wtnsPath, err)
	}
	if len(values) != int(r.nWires) {
		return fmt.Errorf("the witness has %d values, the r1cs %d wires", len(values), r.nWires)
	}
	system := build(r)
	nPublic := 1 + int(r.nOutputs+r.nPublicInputs)
	full, err := fill(values, nPublic, false)
	if err != nil {
		return err
	}
	public, err := fill(values, nPublic, true)
	if err != nil {
		return err
	}
	loadSeconds := time.Since(start).Seconds()

	start = time.Now()
	pk, vk, err := groth16.Setup(system)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	setupSeconds := time.Since(start).Seconds()

	runs := make([]float64, *repeat)
	for i := range runs {
		runtime.GC() // the previous proof's garbage is not this one's cost
		start = time.Now()
		proof, err := groth16.Prove(system, pk, full)
		runs[i] = time.Since(start).Seconds()
		if err != nil {
			return fmt.Errorf("prove: %w", err)
		}
		if err := groth16.Verify(proof, vk, public); err != nil {
			return fmt.Errorf("gnark's own verifier rejects the proof: %w", err)
		}
	}
	best := runs[0]
	for _, t := range runs {
		best = min(best, t)
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"gnark":         moduleVersion("github.com/consensys/gnark"),
		"gnark_crypto":  moduleVersion("github.com/consensys/gnark-crypto"),
		"go":            runtime.Version(),
		"cpus":          runtime.NumCPU(),
		"circuit":       "the same R1CS (read from the .r1cs, every wire from the .wtns)",
		"constraints":   system.GetNbConstraints(),
		"public":        nPublic - 1,
		"wires":         r.nWires,
		"load_seconds":  loadSeconds,
		"setup_seconds": setupSeconds,
		"prove_runs":    runs,
		"prove_seconds": best,
		"verified":      true,
	})
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gnark_peer:", err)
		os.Exit(1)
	}
}

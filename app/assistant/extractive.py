"""The offline answer: the passages' own sentences that best answer the question.

Used when no Ollama answers (the embedded default) or when it fails. It is
labelled as such everywhere it is shown; it never invents a word. Sentences
are ranked with the local model, whatever model the knowledge base embeds
with: this answer is what is left when Ollama has failed, so it must not
need Ollama.
"""

import re

import numpy as np

from app.knowledge.embeddings import LOCAL_MODEL, get_embedder

SENTENCE = re.compile(r"(?<=[.!?])\s+|\n{2,}")
MAX_SENTENCES = 3
# A sentence joins the best one only if it is nearly as relevant: an answer about rest
# days should not go on about nutrition because that passage ranked third.
RELATIVE_FLOOR = 0.55


def sentences(text: str) -> list[str]:
    parts = [p.strip() for p in SENTENCE.split(text)]
    return [p for p in parts if len(p) >= 20 and not p.endswith(":")]


def extractive_answer(question: str, hits, model: str | None = None) -> str:
    """The best sentence of the top passages and up to two nearly as relevant, in reading order.

    `model` (the knowledge base's embedding model) is not used: see above.
    """
    candidates = [(rank, n, s) for rank, hit in enumerate(hits[:3]) for n, s in enumerate(sentences(hit.chunk.content))]
    if not candidates:
        return hits[0].chunk.content[:500] if hits else ""
    embedder = get_embedder(LOCAL_MODEL)
    matrix = np.asarray(embedder.embed_documents([s for *_, s in candidates]), dtype=np.float32)
    query = np.asarray(embedder.embed_query(question), dtype=np.float32)
    scores = matrix @ query - 0.03 * np.array([rank for rank, *_ in candidates])  # prefer the best passage
    ranked = np.argsort(-scores)[:MAX_SENTENCES]
    kept = [i for i in ranked if scores[i] >= RELATIVE_FLOOR * scores[ranked[0]]]
    best = sorted(kept, key=lambda i: (candidates[i][0], candidates[i][1]))
    return " ".join(candidates[i][2] for i in best)

"""Chunk vectors in Chroma: one collection per creator and embedding model.

Keeping models in separate collections means a query can never mix vectors
of two models; keeping creators apart (and filtering on creator_id as well)
means a search can never reach another tenant's passages.
"""

import re
import uuid
from dataclasses import dataclass

import numpy as np

from app.vectorstore import chroma_client

MAX_BATCH = 5000  # Chroma refuses batches above ~5,461 records


def probe_id(chunk_id: uuid.UUID, n: int) -> uuid.UUID:
    """Stable id of a chunk's n-th embedded window (see Chunk.probe_texts)."""
    return uuid.uuid5(chunk_id, f"probe-{n}")


@dataclass
class VectorHit:
    chunk_id: uuid.UUID
    similarity: float  # cosine similarity, 1.0 = same direction


def collection_name(creator_id: uuid.UUID, model: str) -> str:
    slug = re.sub(r"[^a-zA-Z0-9]+", "-", model).strip("-").lower()[:60] or "model"
    return f"creator-{creator_id.hex}-{slug}"


def _collection(creator_id: uuid.UUID, model: str):
    return chroma_client().get_or_create_collection(
        collection_name(creator_id, model),
        embedding_function=None,  # we always pass vectors: no model download, ever
        metadata={"hnsw:space": "cosine", "creator_id": str(creator_id), "embedding_model": model},
    )


def _creator_collections(creator_id: uuid.UUID):
    prefix = f"creator-{creator_id.hex}-"
    for item in chroma_client().list_collections():
        name = item if isinstance(item, str) else item.name
        if name.startswith(prefix):
            yield chroma_client().get_collection(name, embedding_function=None)


def upsert(creator_id: uuid.UUID, model: str, ids: list[uuid.UUID], vectors: list[list[float]], metadatas: list[dict]):
    collection = _collection(creator_id, model)
    for start in range(0, len(ids), MAX_BATCH):
        end = start + MAX_BATCH
        collection.upsert(
            ids=[str(i) for i in ids[start:end]],
            embeddings=vectors[start:end],
            metadatas=[{**m, "creator_id": str(creator_id)} for m in metadatas[start:end]],
        )


def delete_document(creator_id: uuid.UUID, document_id: uuid.UUID) -> None:
    """Remove a document's vectors from every model collection of the creator."""
    for collection in _creator_collections(creator_id):
        collection.delete(where={"document_id": str(document_id)})


def prune_document(creator_id: uuid.UUID, document_id: uuid.UUID, keep_model: str, keep_ids: set[uuid.UUID]) -> None:
    """After a re-index: drop the document's vectors of other models and those the new version lacks."""
    keep_name = collection_name(creator_id, keep_model)
    keep = {str(i) for i in keep_ids}
    for collection in _creator_collections(creator_id):
        if collection.name != keep_name:
            collection.delete(where={"document_id": str(document_id)})
            continue
        existing = collection.get(where={"document_id": str(document_id)}, include=[])["ids"]
        stale = [i for i in existing if i not in keep]
        if stale:
            collection.delete(ids=stale)


def delete_knowledge_base(creator_id: uuid.UUID, knowledge_base_id: uuid.UUID) -> None:
    for collection in _creator_collections(creator_id):
        collection.delete(where={"knowledge_base_id": str(knowledge_base_id)})


def query(
    creator_id: uuid.UUID, model: str, kb_ids: list[uuid.UUID], vector: list[float], limit: int, all_kbs: bool = False
) -> list[VectorHit]:
    """Best chunks for `vector`: each chunk scores as its best window.

    The collection already holds only this creator's vectors, so no creator
    filter is needed; the knowledge-base filter is skipped when every KB of
    the collection is searched (Chroma's metadata filters cost more than the
    vector search itself on large collections).
    """
    collection = _collection(creator_id, model)
    size = collection.count()
    if size == 0:
        return []
    where = None if all_kbs else {"knowledge_base_id": {"$in": [str(k) for k in kb_ids]}}
    # Several windows per chunk: ask for more, keep each chunk's best window.
    result = collection.query(
        query_embeddings=[vector], n_results=min(limit * 3, size), where=where, include=["distances", "metadatas"]
    )
    best: dict[uuid.UUID, float] = {}
    for metadata, distance in zip(result["metadatas"][0], result["distances"][0], strict=True):
        chunk_id = uuid.UUID(metadata["chunk_id"])
        best[chunk_id] = max(best.get(chunk_id, -1.0), 1.0 - distance)
    ranked = sorted(best.items(), key=lambda item: item[1], reverse=True)[:limit]
    return [VectorHit(chunk_id, similarity) for chunk_id, similarity in ranked]


def similarities(creator_id: uuid.UUID, model: str, chunk_ids: list[uuid.UUID], vector: list[float]) -> dict:
    """Cosine similarity of the query to specific chunks (ids absent from this model are skipped)."""
    if not chunk_ids:
        return {}
    found = _collection(creator_id, model).get(
        where={"chunk_id": {"$in": [str(i) for i in chunk_ids]}}, include=["embeddings", "metadatas"]
    )
    if not found["ids"]:
        return {}
    matrix = np.asarray(found["embeddings"], dtype=np.float32)
    query = np.asarray(vector, dtype=np.float32)
    sims = matrix @ query / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(query) + 1e-12)
    best: dict[uuid.UUID, float] = {}
    for metadata, sim in zip(found["metadatas"], sims, strict=True):
        chunk_id = uuid.UUID(metadata["chunk_id"])
        best[chunk_id] = max(best.get(chunk_id, -1.0), float(sim))
    return best


def stats(creator_id: uuid.UUID | None = None) -> list[dict]:
    """Collections with their vector counts (all, or one creator's)."""
    collections = (
        _creator_collections(creator_id)
        if creator_id
        else (
            chroma_client().get_collection(c if isinstance(c, str) else c.name, embedding_function=None)
            for c in chroma_client().list_collections()
        )
    )
    return [
        {"name": c.name, "count": c.count(), "embedding_model": (c.metadata or {}).get("embedding_model")}
        for c in collections
    ]

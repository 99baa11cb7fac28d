"""Ingestion throughput on a mixed corpus: the real ingestion job against `unstructured` alone.

    .venv/bin/python -m bench.ingestion_throughput      (needs: apt-get install python3.11-doc)

Corpus: real public documents found on this machine, none written for this
benchmark. HTML pages of the Python documentation (python3.11-doc: library/
and howto/), Markdown and plain-text documentation under /usr/share/doc
(Node.js API docs, dpkg specs, READMEs), the PDF manuals Debian ships
(libtasn1, shared-mime-info), and Word documents: no real .docx is on a Debian
machine, so two Python tutorial pages are converted to .docx here with
python-docx (their headings, paragraphs, list items, code blocks and tables,
text unchanged). Files that are missing are skipped; the table says what was used.

Baseline, "unstructured alone": the same files through the same library calls
app/knowledge/parsing.py makes, and nothing else: partition_html / partition_md /
partition_text / partition_docx with languages=[""], and for PDFs pypdf's
layout text of each page, then partition_text on it (the product reads PDFs
with pypdf, not with unstructured's partition_pdf).

Creator Hub: an app on a temporary instance (SQLite and in-process fakeredis,
or PostgreSQL / Redis when DATABASE_URL / REDIS_URL are set), one creator, one
knowledge base with the default settings (1000-character chunks, 200 overlap,
local all-MiniLM-L6-v2); every file goes through services.add_upload (not
timed: that is the upload request), then app.jobs.run_pending_jobs runs the
ingest jobs through a real RQ worker (timed). The stages are timed by wrapping
the functions the job calls, in this process, without touching the app code:
parse (parse_document; of which the partition calls), chunk (chunk_elements),
embed (the embedder's embed_documents), vectors (Chroma upsert + prune) and the
rest of the job (database rows, full-text index, commits, status), plus the
worker's own overhead (RQ, fakeredis) outside the job function.

Both sides run after a warm-up (unstructured, spaCy and the MiniLM model
loaded once, as a long-running worker has them), in one process, one run.
"""

import functools
import io
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from lxml import html as lxml_html

from bench.common import in_instance

PY_DOCS = Path("/usr/share/doc/python3.11/html")
HTML_PAGES = [
    "library/json.html",
    "library/csv.html",
    "library/functools.html",
    "library/itertools.html",
    "library/pathlib.html",
    "library/collections.html",
    "howto/regex.html",
    "howto/sorting.html",
    "howto/logging.html",
    "howto/functional.html",
    "howto/unicode.html",
    "howto/sockets.html",
]
DOCX_FROM_HTML = ["tutorial/classes.html", "tutorial/controlflow.html"]
TEXT_FILES = [  # Markdown and plain-text documentation from Debian packages
    "/usr/share/doc/nodejs/api/path.md",
    "/usr/share/doc/nodejs/api/timers.md",
    "/usr/share/doc/nodejs/api/console.md",
    "/usr/share/doc/nodejs/api/readline.md",
    "/usr/share/doc/nodejs/GOVERNANCE.md",
    "/usr/share/doc/libxml2/README.md",
    "/usr/share/doc/git/README.md",
    "/usr/share/doc/mosquitto/README.md",
    "/usr/share/doc/python3-pip/html/getting-started.md",
    "/usr/share/doc/python3-pip/html/installation.md",
    "/usr/share/doc/dpkg/spec/triggers.txt",
    "/usr/share/doc/dpkg/spec/rootless-builds.txt",
    "/usr/share/doc/git/contrib/subtree/git-subtree.txt",
    "/usr/share/doc/libasound2/examples/asoundrc.txt",
]
PDF_FILES = [
    "/usr/share/doc/libtasn1-doc/libtasn1.pdf",
    "/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf",
]


@dataclass
class SourceFile:
    name: str  # upload file name
    origin: str  # where it came from
    file_type: str
    data: bytes
    pages: int = 1  # PDF pages; 1 for the other formats


# --- the corpus ----------------------------------------------------------------------


def _clean(text: str) -> str:
    return " ".join(text.replace("¶", "").split())


def html_to_docx(path: Path) -> bytes:
    """A Word document with the page's main text: headings, paragraphs, list items, code, tables."""
    import docx

    main = lxml_html.parse(str(path)).xpath("//div[@role='main']")[0]
    for noise in main.xpath(".//a[@class='headerlink']"):
        noise.getparent().remove(noise)
    document = docx.Document()
    for element in main.iter("h1", "h2", "h3", "h4", "p", "pre", "table"):
        if element.xpath("ancestor::table") or element.tag == "p" and element.xpath("ancestor::pre"):
            continue
        if element.tag == "table":
            rows = [[_clean(c.text_content()) for c in r.xpath("./th|./td")] for r in element.xpath(".//tr")]
            width = max((len(r) for r in rows), default=0)
            if rows and width:
                table = document.add_table(rows=len(rows), cols=width)
                for i, row in enumerate(rows):
                    for j, cell in enumerate(row):
                        table.cell(i, j).text = cell
            continue
        text = element.text_content().strip() if element.tag == "pre" else _clean(element.text_content())
        if not text:
            continue
        if element.tag[0] == "h":
            document.add_heading(text, int(element.tag[1]) - 1)
        elif element.xpath("ancestor::li"):
            document.add_paragraph(text, style="List Bullet")
        else:
            document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def load_corpus() -> list[SourceFile]:
    import pypdf

    if not PY_DOCS.exists():
        raise SystemExit(f"{PY_DOCS} is missing: apt-get install python3.11-doc")
    files = []
    for page in HTML_PAGES:
        path = PY_DOCS / page
        if path.exists():
            files.append(SourceFile(page.replace("/", "-"), str(path), "html", path.read_bytes()))
    for page in DOCX_FROM_HTML:
        path = PY_DOCS / page
        if path.exists():
            name = page.replace("/", "-").replace(".html", ".docx")
            files.append(SourceFile(name, f"{path} -> python-docx", "docx", html_to_docx(path)))
    for name in TEXT_FILES:
        path = Path(name)
        if path.exists():
            file_type = "md" if path.suffix == ".md" else "txt"
            upload_name = "-".join(path.parts[-2:])
            files.append(SourceFile(upload_name, str(path), file_type, path.read_bytes()))
    for name in PDF_FILES:
        path = Path(name)
        if path.exists():
            pages = len(pypdf.PdfReader(str(path)).pages)
            files.append(SourceFile(path.name, str(path), "pdf", path.read_bytes(), pages))
    return files


# --- stage timing ---------------------------------------------------------------------


class Stages:
    """Wall time per stage, collected by wrapping functions in this process."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._undo: list = []

    def wrap(self, owner, attribute: str, stage: str, is_dict: bool = False):
        original = owner[attribute] if is_dict else getattr(owner, attribute)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[stage] += time.perf_counter() - started
                self.calls[stage] += 1

        if is_dict:
            owner[attribute] = timed
            self._undo.append(lambda: owner.__setitem__(attribute, original))
        else:
            setattr(owner, attribute, timed)
            self._undo.append(lambda: setattr(owner, attribute, original))

    def restore(self):
        while self._undo:
            self._undo.pop()()


# --- baseline: unstructured alone -------------------------------------------------


def partition_alone(source: SourceFile) -> int:
    """The library calls only; returns the number of elements."""
    if source.file_type == "html":
        from unstructured.partition.html import partition_html

        return len(partition_html(text=source.data.decode("utf-8", "replace"), languages=[""]))
    if source.file_type == "md":
        from unstructured.partition.md import partition_md

        return len(partition_md(text=source.data.decode("utf-8", "replace"), languages=[""]))
    if source.file_type == "txt":
        from unstructured.partition.text import partition_text

        return len(partition_text(text=source.data.decode("utf-8", "replace"), languages=[""]))
    if source.file_type == "docx":
        from unstructured.partition.docx import partition_docx

        return len(partition_docx(file=io.BytesIO(source.data), languages=[""]))
    if source.file_type == "pdf":
        import pypdf
        from unstructured.partition.text import partition_text

        count = 0
        for page in pypdf.PdfReader(io.BytesIO(source.data)).pages:
            text = page.extract_text(extraction_mode="layout")
            if text.strip():
                count += len(partition_text(text=text, languages=[""]))
        return count
    raise ValueError(source.file_type)


def warm_up(files: list[SourceFile], instance: str) -> None:
    """Load unstructured (and spaCy), pypdf and the MiniLM model once, before anything is timed."""
    from app.knowledge.embeddings import LocalMiniLMEmbedder
    from app.knowledge.parsing import configure_unstructured_offline, parse_document

    configure_unstructured_offline()
    samples = {
        "html": ("w.html", b"<html><body><h1>Warm</h1><p>Up the parser. It is a sentence.</p></body></html>"),
        "md": ("w.md", b"# Warm\n\nUp the parser. It is a sentence.\n"),
        "txt": ("w.txt", b"Warm\n\nUp the parser. It is a sentence.\n"),
    }
    for name, data in samples.values():
        parse_document(data, name)
    from tests.knowledge.test_parsing import HANDBOOK_PDF_PAGES, make_docx, make_pdf

    for source in (
        SourceFile("w.docx", "", "docx", make_docx()),
        SourceFile("w.pdf", "", "pdf", make_pdf(HANDBOOK_PDF_PAGES)),
    ):
        partition_alone(source)
        parse_document(source.data, source.name)
    LocalMiniLMEmbedder(cache_dir=Path(instance) / "models").embed_documents(["warm up the model"])


def run_baseline(files: list[SourceFile]) -> tuple[dict[str, float], int]:
    """Seconds per file type, and the number of elements."""
    seconds: dict[str, float] = defaultdict(float)
    elements = 0
    for source in files:
        started = time.perf_counter()
        elements += partition_alone(source)
        seconds[source.file_type] += time.perf_counter() - started
    return seconds, elements


# --- Creator Hub: the ingestion job -------------------------------------------------------


def run_pipeline(files: list[SourceFile]) -> dict:
    from flask_migrate import upgrade

    from app import create_app
    from app.auth.services import register_creator
    from app.extensions import db
    from app.jobs import run_pending_jobs
    from app.knowledge import chunking, parsing, services, tasks, vectors
    from app.knowledge.embeddings import LocalMiniLMEmbedder
    from app.models import Chunk, Document

    app = create_app({"RATELIMIT_ENABLED": False})
    with app.app_context():
        upgrade()
        backend = db.engine.dialect.name
        owner = register_creator(f"bench-{uuid.uuid4().hex[:8]}@example.com", "bench-password-1", "Bench")
        kb = services.create_knowledge_base(owner.creator_id, f"Ingestion bench {uuid.uuid4().hex[:6]}")
        started = time.perf_counter()
        for source in files:
            services.add_upload(kb, source.name, source.data)
        upload_seconds = time.perf_counter() - started
        kb_id, creator_id, model = kb.id, owner.creator_id, kb.embedding_model

    stages = Stages()
    stages.wrap(tasks, "ingest_document", "job")
    stages.wrap(tasks, "parse_document", "parse")
    for file_type in list(parsing._READERS):
        stages.wrap(parsing._READERS, file_type, f"partition:{file_type}", is_dict=True)
    stages.wrap(chunking, "chunk_elements", "chunk")
    stages.wrap(LocalMiniLMEmbedder, "embed_documents", "embed")
    stages.wrap(vectors, "upsert", "vectors")
    stages.wrap(vectors, "prune_document", "vectors")
    try:
        started = time.perf_counter()
        jobs = run_pending_jobs(app)
        seconds = time.perf_counter() - started
    finally:
        stages.restore()

    with app.app_context():
        documents = list(db.session.scalars(db.select(Document).where(Document.knowledge_base_id == kb_id)))
        failed = {d.filename: d.error_message for d in documents if d.processing_status != "completed"}
        chunk_count = db.session.scalar(db.select(db.func.count(Chunk.id)).where(Chunk.knowledge_base_id == kb_id))
        text_chars = sum(len(d.content or "") for d in documents)
        windows = sum(c["count"] for c in vectors.stats(creator_id) if c["embedding_model"] == model)
    if stages.calls["job"] != len(files):
        raise SystemExit(f"the worker ran {stages.calls['job']} wrapped ingest jobs, expected {len(files)}")
    return {
        "backend": backend,
        "jobs": jobs,
        "seconds": seconds,
        "upload_seconds": upload_seconds,
        "stages": dict(stages.seconds),
        "failed": failed,
        "chunks": chunk_count,
        "windows": windows,
        "text_chars": text_chars,
    }


def main() -> int:
    return in_instance(run, "bench-ingestion-")


def run(instance: str) -> int:
    files = load_corpus()
    if not files:
        raise SystemExit("no corpus files found")
    mb = sum(len(f.data) for f in files) / 1e6
    warm_up(files, instance)
    base_by_type, base_elements = run_baseline(files)
    base_seconds = sum(base_by_type.values())
    result = run_pipeline(files)
    if result["failed"]:
        raise SystemExit(f"ingestion failed: {result['failed']}")
    st, seconds = result["stages"], result["seconds"]
    chunks, windows = result["chunks"], result["windows"]

    by_type: dict[str, list[SourceFile]] = defaultdict(list)
    for f in files:
        by_type[f.file_type].append(f)
    print(
        f"Corpus: {len(files)} real documents, {mb:.2f} MB, {sum(f.pages for f in by_type['pdf'])} PDF pages, "
        f"{result['text_chars'] / 1e6:.2f} M characters of extracted text"
    )
    print(
        f"Creator Hub on {result['backend']}: {result['jobs']} ingest jobs, {chunks} chunks, {windows} embedding "
        f"windows ({windows / chunks:.2f} per chunk); uploading the files (not timed) took "
        f"{result['upload_seconds']:.1f} s"
    )
    print()
    print(
        f"{'format':7} {'files':>5} {'MB':>6} {'unstructured alone s':>21} {'Creator Hub partition s':>24} {'ratio':>6}"
    )
    for file_type, group in by_type.items():
        ours = st.get(f"partition:{file_type}", 0.0)
        base = base_by_type[file_type]
        size = sum(len(f.data) for f in group) / 1e6
        print(f"{file_type:7} {len(group):5} {size:6.2f} {base:21.1f} {ours:24.1f} {ours / base:6.2f}")
    print()
    print(
        f"{'system':30} {'seconds':>8} {'MB/min':>7} {'docs/min':>9} {'chunks/s':>9} {'time / unstructured alone':>26}"
    )
    print(
        f"{'unstructured alone (baseline)':30} {base_seconds:8.1f} {mb / base_seconds * 60:7.2f} "
        f"{len(files) / base_seconds * 60:9.1f} {'-':>9} {1:26.2f}"
    )
    print(
        f"{'Creator Hub ingestion job':30} {seconds:8.1f} {mb / seconds * 60:7.2f} {len(files) / seconds * 60:9.1f} "
        f"{chunks / seconds:9.1f} {seconds / base_seconds:26.2f}"
    )
    partition = sum(v for k, v in st.items() if k.startswith("partition:"))
    job, parse, chunk, embed, vec = (st.get(k, 0.0) for k in ("job", "parse", "chunk", "embed", "vectors"))
    parts = [
        ("parse (parse_document)", parse),
        ("  of which partition (unstructured, pypdf)", partition),
        ("  of which type check, guards, cleaning", parse - partition),
        ("chunk (chunk_elements)", chunk),
        (f"embed: {windows / embed:.1f} windows/s, {chunks / embed:.1f} chunks/s", embed),
        ("store: vectors (Chroma upsert + prune)", vec),
        ("store: rows, full-text index, commits", job - parse - chunk - embed - vec),
        ("worker overhead (RQ, outside the job)", seconds - job),
    ]
    print()
    print(f"{'Creator Hub stage':44} {'seconds':>8} {'share':>6} {'stage / unstructured alone':>27}")
    for name, s in parts:
        print(f"{name:44} {s:8.2f} {s / seconds:6.1%} {s / base_seconds:27.2f}")
    print(f"(unstructured alone: {base_elements} elements)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

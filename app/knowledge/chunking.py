"""Cut parsed elements into retrieval chunks that follow the document's headings.

Written directly rather than on unstructured's `chunk_by_title`: that works on
unstructured's own elements (ours carry a heading path and PDF pages we built),
starts a section at every Title rather than at a change of heading path, and
splits long text on whitespace, not sentences. The rules here fit in one screen:

- Elements are packed in order, joined by a blank line, up to `chunk_size` characters.
- A chunk holds one section (heading path). A heading belongs to the section it
  opens, so it starts a chunk; headings with nothing under them yet (a chapter
  title right before its first subsection) stay with what follows, inside the
  same top-level section. Text is never merged across top-level sections.
- An element longer than `chunk_size` is cut on sentence boundaries (words, then
  characters, when a sentence alone is too long); consecutive pieces share about
  `chunk_overlap` characters. The last piece is packed with the elements after it.

Pieces are substrings of the element text, so line breaks survive. Output depends
only on the input: chunk ids built from (document id, index) are stable.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass

from app.knowledge.parsing import Element

MIN_CHUNK_SIZE = 100
MAX_CHUNK_SIZE = 8000
_SEPARATOR = "\n\n"  # between elements in a chunk; counted in chunk_size
_WORD = re.compile(r"\S+")
_SENTENCE_END = re.compile(r"""[.!?…。！？]["'”’)\]]*$""")


PROBE_WINDOW = 400


@dataclass
class Chunk:
    index: int
    text: str
    section: list[str]
    page: int | None
    char_count: int

    @property
    def embedding_text(self) -> str:
        """The heading path, then the text: passages rarely repeat their topic, headings do."""
        return self._with_section(self.text)

    def probe_texts(self, window: int = PROBE_WINDOW) -> list[str]:
        """What gets embedded for this chunk: windows of about `window` characters,
        each with the heading path.

        Small-to-big retrieval: the embedding model reads 256 tokens at most and
        blurs several topics into one vector, so each window is matched on its
        own and a chunk scores as its best window; the whole chunk is returned.
        """
        if len(self.text) <= window:
            return [self.embedding_text]
        return [self._with_section(piece) for piece in split_text(self.text, window, 0)]

    def _with_section(self, text: str) -> str:
        return f"{' > '.join(self.section)}\n{text}" if self.section else text


@dataclass
class _Piece:
    text: str
    section: list[str]  # a heading's section includes the heading itself
    page: int | None
    is_heading: bool
    split_of: int | None  # index of the long element this was cut from


def chunk_elements(elements: list[Element], chunk_size: int = 1000, chunk_overlap: int = 200) -> list[Chunk]:
    """Chunks in document order, indexed 0..n-1; see the module docstring for the rules."""
    _validate(chunk_size, chunk_overlap)
    pieces = [
        piece
        for number, element in enumerate(elements)
        for piece in _pieces(number, element, chunk_size, chunk_overlap)
    ]
    return [_chunk(index, group) for index, group in enumerate(_pack(pieces, chunk_size))]


def _validate(chunk_size: int, chunk_overlap: int) -> None:
    if not isinstance(chunk_size, int) or not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError(f"chunk_size must be an integer from {MIN_CHUNK_SIZE} to {MAX_CHUNK_SIZE}, got {chunk_size!r}")
    if not isinstance(chunk_overlap, int) or not 0 <= chunk_overlap < chunk_size / 2:
        raise ValueError(
            f"chunk_overlap must be an integer from 0 to less than half of chunk_size "
            f"({chunk_size}), got {chunk_overlap!r}"
        )


def _pieces(number: int, element: Element, chunk_size: int, chunk_overlap: int) -> Iterator[_Piece]:
    text = element.text.strip()
    if not text:
        return
    is_heading = element.category == "Title"
    section = [*element.section, text] if is_heading else list(element.section)
    if len(text) <= chunk_size:
        yield _Piece(text, section, element.page, is_heading, None)
        return
    for part in split_text(text, chunk_size, chunk_overlap):
        yield _Piece(part, section, element.page, is_heading, number)


def _pack(pieces: list[_Piece], chunk_size: int) -> list[list[_Piece]]:
    groups: list[list[_Piece]] = []
    current: list[_Piece] = []
    length = 0
    for piece in pieces:
        if current and not _joins(current, length, piece, chunk_size):
            groups.append(current)
            current, length = [], 0
        length += (len(_SEPARATOR) if current else 0) + len(piece.text)
        current.append(piece)
    if current:
        groups.append(current)
    return groups


def _joins(current: list[_Piece], length: int, piece: _Piece, chunk_size: int) -> bool:
    last = current[-1]
    if _top_level(last.section) != _top_level(piece.section):
        return False
    if piece.split_of is not None and piece.split_of == last.split_of:
        return False  # they overlap: one chunk would hold the same sentences twice
    same_section = piece.section == last.section or all(p.is_heading for p in current)
    return same_section and length + len(_SEPARATOR) + len(piece.text) <= chunk_size


def _top_level(section: list[str]) -> str | None:
    return section[0] if section else None


def _chunk(index: int, group: list[_Piece]) -> Chunk:
    text = _SEPARATOR.join(piece.text for piece in group)
    page = next((piece.page for piece in group if piece.page is not None), None)
    # Every piece but leading headings shares the last one's section, the most specific.
    return Chunk(index=index, text=text, section=list(group[-1].section), page=page, char_count=len(text))


def split_text(text: str, chunk_size: int, chunk_overlap: int) -> list[str]:
    """Cut `text` into pieces of at most `chunk_size` characters, ending on sentence
    boundaries where possible; each piece starts with the last ~`chunk_overlap`
    characters (whole words) of the one before."""
    words = [match.span() for match in _WORD.finditer(text)]
    if not words:
        return []
    word_starts = [start for start, _ in words]
    # One space between units must fit too, after the overlap: hence the -1.
    units = _units(text, words, max(1, chunk_size - chunk_overlap - 1))
    pieces: list[str] = []
    start, next_unit = units[0][0], 0
    while next_unit < len(units):
        end = units[next_unit][1]
        next_unit += 1
        while next_unit < len(units) and units[next_unit][1] - start <= chunk_size:
            end = units[next_unit][1]
            next_unit += 1
        pieces.append(text[start:end])
        if next_unit < len(units):
            start = _overlap_start(word_starts, end, chunk_overlap, units[next_unit][0])
            if units[next_unit][1] - start > chunk_size:  # a wide gap of whitespace left no room
                start = units[next_unit][0]
    return pieces


def _units(text: str, words: list[tuple[int, int]], limit: int) -> list[tuple[int, int]]:
    """Spans of sentences; a sentence longer than `limit` becomes its words, and a word
    longer than `limit` (a URL, a base64 blob) is cut every `limit` characters."""
    units: list[tuple[int, int]] = []
    first = 0
    for i, (start, end) in enumerate(words):
        is_last = i == len(words) - 1
        if not (is_last or _SENTENCE_END.search(text[start:end]) or "\n" in text[end : words[i + 1][0]]):
            continue
        if end - words[first][0] <= limit:
            units.append((words[first][0], end))
        else:
            for word_start, word_end in words[first : i + 1]:
                units += [(cut, min(cut + limit, word_end)) for cut in range(word_start, word_end, limit)]
        first = i + 1
    return units


def _overlap_start(word_starts: list[int], end: int, chunk_overlap: int, fallback: int) -> int:
    """The first word that starts within `chunk_overlap` characters before `end`."""
    if chunk_overlap == 0:
        return fallback
    i = bisect.bisect_left(word_starts, end - chunk_overlap)
    return word_starts[i] if i < len(word_starts) and word_starts[i] < end else fallback

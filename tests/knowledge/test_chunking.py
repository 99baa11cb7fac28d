"""Chunking: sized, overlapping where a long passage is cut, never across top-level
sections, deterministic, and prefixed with the heading path for embedding."""

import re

import pytest

from app.knowledge.chunking import Chunk, chunk_elements, split_text
from app.knowledge.parsing import Element, parse_document
from tests.knowledge.test_parsing import MARKDOWN, make_docx


def sentences(count: int, topic: str = "refund") -> str:
    return " ".join(f"Sentence {n} explains the {topic} rule number {n} in plain words." for n in range(count))


def title(text: str, *section: str, page: int | None = None) -> Element:
    return Element(text=text, category="Title", section=list(section), page=page)


def para(text: str, *section: str, page: int | None = None) -> Element:
    return Element(text=text, category="NarrativeText", section=list(section), page=page)


HANDBOOK = [
    title("Billing"),
    para("We bill on the first of the month.", "Billing"),
    title("Refunds", "Billing"),
    para(sentences(40), "Billing", "Refunds", page=2),
    para("Ask support for anything else.", "Billing", "Refunds", page=3),
    title("Shipping"),
    para("We ship worldwide.", "Shipping", page=3),
]


def test_chunks_respect_the_size_and_are_indexed_in_order():
    chunks = chunk_elements(HANDBOOK, chunk_size=300, chunk_overlap=60)
    assert [chunk.index for chunk in chunks] == list(range(len(chunks)))
    assert all(chunk.char_count == len(chunk.text) <= 300 for chunk in chunks)
    assert len(chunks) > 5


def test_a_long_element_is_cut_on_sentence_boundaries_with_overlap():
    text = sentences(40)
    pieces = split_text(text, chunk_size=300, chunk_overlap=60)
    assert all(len(piece) <= 300 for piece in pieces) and len(pieces) > 3
    for before, after in zip(pieces, pieces[1:], strict=False):
        assert before.endswith(".")  # cut after a sentence
        shared = max(n for n in range(len(after) + 1) if before.endswith(after[:n]))
        assert 40 <= shared <= 60  # about chunk_overlap characters, whole words
    # Nothing is lost: removing the overlaps gives the text back.
    assert re.sub(r"\s+", " ", " ".join(pieces)).count("rule number 39") == 1


def test_a_sentence_longer_than_the_chunk_is_cut_on_words_then_characters():
    text = "word " * 200 + "x" * 700
    pieces = split_text(text.strip(), chunk_size=250, chunk_overlap=50)
    assert all(len(piece) <= 250 for piece in pieces)
    assert "".join(p.replace("word", "").replace(" ", "") for p in pieces).count("x") >= 700


def test_no_overlap_when_asked_for_none():
    pieces = split_text(sentences(30), chunk_size=300, chunk_overlap=0)
    assert " ".join(pieces) == sentences(30)


def test_never_merges_across_top_level_sections():
    elements = [
        para("Short billing note.", "Billing"),
        para("Short shipping note.", "Shipping"),
        para("Another shipping note.", "Shipping"),
    ]
    chunks = chunk_elements(elements, chunk_size=1000, chunk_overlap=0)
    assert [chunk.text for chunk in chunks] == ["Short billing note.", "Short shipping note.\n\nAnother shipping note."]
    for chunk in chunk_elements(HANDBOOK, chunk_size=300, chunk_overlap=60):
        assert not ("Billing" in chunk.embedding_text and "Shipping" in chunk.embedding_text)


def test_a_heading_starts_its_chunk_and_stays_with_its_text():
    chunks = chunk_elements(HANDBOOK, chunk_size=1000, chunk_overlap=100)
    assert chunks[0].text == "Billing\n\nWe bill on the first of the month." and chunks[0].section == ["Billing"]
    assert chunks[1].text.startswith("Refunds\n\nSentence 0") and chunks[1].section == ["Billing", "Refunds"]
    assert chunks[-1].text == "Shipping\n\nWe ship worldwide." and chunks[-1].section == ["Shipping"]


def test_a_chapter_heading_with_no_text_of_its_own_joins_the_first_subsection():
    elements = [title("Guide"), title("Setup", "Guide"), para("Plug it in.", "Guide", "Setup")]
    [chunk] = chunk_elements(elements, chunk_size=200, chunk_overlap=0)
    assert chunk.text == "Guide\n\nSetup\n\nPlug it in." and chunk.section == ["Guide", "Setup"]


def test_the_small_tail_of_a_long_element_is_packed_with_what_follows():
    chunks = chunk_elements(HANDBOOK, chunk_size=300, chunk_overlap=60)
    tail = next(chunk for chunk in chunks if "Ask support" in chunk.text)
    assert "Sentence 39" in tail.text and tail.section == ["Billing", "Refunds"]


def test_pages_follow_the_first_element_of_each_chunk():
    chunks = chunk_elements(HANDBOOK, chunk_size=300, chunk_overlap=60)
    assert chunks[0].page is None
    assert all(chunk.page == 2 for chunk in chunks if chunk.text.startswith("Sentence"))
    assert chunks[-1].page == 3


def test_embedding_text_is_prefixed_with_the_section_path():
    chunk = Chunk(index=0, text="Refunds take five days.", section=["Billing", "Refunds"], page=None, char_count=23)
    assert chunk.embedding_text == "Billing > Refunds\nRefunds take five days."
    assert Chunk(index=0, text="Preamble.", section=[], page=None, char_count=9).embedding_text == "Preamble."


def test_same_input_gives_the_same_chunks():
    assert chunk_elements(HANDBOOK, 300, 60) == chunk_elements(list(HANDBOOK), 300, 60)


def test_no_elements_no_chunks():
    assert chunk_elements([]) == []
    assert chunk_elements([para("   ")]) == []


@pytest.mark.parametrize(
    "chunk_size,chunk_overlap",
    [
        (99, 0),
        (8001, 0),
        (1000, -1),
        (1000, 500),
        (1000, 600),
        (100.5, 0),
        ("1000", 0),
    ],
)
def test_invalid_settings_are_refused(chunk_size, chunk_overlap):
    with pytest.raises(ValueError):
        chunk_elements(HANDBOOK, chunk_size, chunk_overlap)


@pytest.mark.parametrize("chunk_size,chunk_overlap", [(100, 0), (100, 49), (8000, 3999)])
def test_boundary_settings_are_accepted(chunk_size, chunk_overlap):
    assert chunk_elements(HANDBOOK, chunk_size, chunk_overlap)


def test_parsed_documents_chunk_end_to_end():
    chunks = chunk_elements(parse_document(MARKDOWN.encode(), "plan.md").elements, chunk_size=200, chunk_overlap=20)
    monday = next(chunk for chunk in chunks if "Rest and stretch" in chunk.text)
    assert monday.embedding_text.startswith("Training plan > Week one > Monday\n")
    docx_chunks = chunk_elements(parse_document(make_docx(), "h.docx").elements)
    assert [chunk.section for chunk in docx_chunks] == [
        ["Creator Handbook"],
        ["Billing"],
        ["Billing", "Refunds"],
        ["Shipping"],
    ]

"""The Python FAQ (Debian's python3.11-doc) as a retrieval test set.

Each FAQ question is a section heading whose answer follows it. To make the
test about finding answers rather than matching a heading to itself, the
question headings are removed from the indexed pages (category headings and
page titles stay) and the questions become the queries. A retrieved passage
counts as a hit when it contains one of the answer's sentences.
"""

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path

from lxml import html as lxml_html

FAQ_DIR = Path("/usr/share/doc/python3.11/html/faq")
PAGES = ["general", "programming", "design", "library", "extending", "windows", "gui", "installed"]
MIN_SENTENCE = 30


@dataclass
class Question:
    text: str
    page: str
    sentences: list[str] = field(default_factory=list)  # normalized answer sentences


@dataclass
class Corpus:
    pages: dict[str, bytes]  # page name -> HTML with the question headings removed
    questions: list[Question]


def normalize(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def sentences_of(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?])\s+", normalize(text))
    return [p for p in parts if len(p) >= MIN_SENTENCE]


def _heading_text(heading) -> str:
    return normalize(heading.text_content()).replace("¶", "").strip()


def _answer_text(section) -> str:
    """The section's own text: without its heading and without nested sections."""
    own = copy.deepcopy(section)
    for child in own.xpath("./h1|./h2|./h3|./h4|./section"):
        own.remove(child)
    return own.text_content()


def load(faq_dir: Path = FAQ_DIR) -> Corpus:
    if not faq_dir.exists():
        raise SystemExit(f"{faq_dir} is missing: apt-get install python3.11-doc")
    pages, questions = {}, []
    for name in PAGES:
        tree = lxml_html.parse(str(faq_dir / f"{name}.html"))
        body = tree.xpath("//div[@role='main']")[0]
        for section in body.xpath(".//section"):
            heading = section.xpath("./h1|./h2|./h3|./h4")
            if not heading:
                continue
            title = _heading_text(heading[0])
            if not title.endswith("?"):
                continue
            sentences = sentences_of(_answer_text(section))
            if sentences:
                questions.append(Question(title, name, sentences))
            section.remove(heading[0])  # the question itself is not indexed
        for noise in body.xpath(".//a[@class='headerlink']"):
            noise.getparent().remove(noise)
        pages[name] = lxml_html.tostring(body, encoding="utf-8")
    return Corpus(pages, questions)


WORD = re.compile(r"\w+")


def _words(text: str) -> str:
    # Compare word sequences, not raw strings: parsers space code and punctuation
    # differently, and that must not decide whether a passage holds the answer.
    return " " + " ".join(WORD.findall(text.lower())) + " "


def is_hit(passage: str, question: Question) -> bool:
    """The passage holds one of the answer's sentences (as a run of words)."""
    words = _words(passage)
    return any(_words(sentence) in words for sentence in question.sentences)

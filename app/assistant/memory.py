"""Facts and preferences an end user states about themselves, kept for later turns."""

import re

# One to three capitalised words, whatever the case of the rest of the sentence.
NAME = r"((?-i:[A-ZÀ-Þ][\w'-]+(?: [A-ZÀ-Þ][\w'-]+){0,2}))"
# (key, kind, pattern): the first group is the value. Anchored on first-person phrasing.
PATTERNS = [
    ("name", "fact", r"\bmy name is " + NAME),
    ("name", "fact", r"\bcall me " + NAME),
    ("goal", "fact", r"\bmy goal is (?:to )?([^.!?\n]{3,120})"),
    ("goal", "fact", r"\bi(?:'m| am) training for ([^.!?\n]{3,120})"),
    ("location", "fact", r"\bi live in ([^.!?,\n]{2,60})"),
    ("age", "fact", r"\bi(?:'m| am) (\d{1,3}) years old"),
    ("preference", "preference", r"\bi prefer ([^.!?\n]{3,120})"),
    ("dislike", "preference", r"\bi (?:hate|dislike|don't like|do not like) ([^.!?\n]{3,120})"),
]
COMPILED = [(key, kind, re.compile(pattern, re.IGNORECASE)) for key, kind, pattern in PATTERNS]
ABOUT_ME = re.compile(
    r"\bwhat do you (?:know|remember) about me\b|\bwhat have you (?:learned|stored) about me\b", re.IGNORECASE
)


def extract(text: str) -> list[tuple[str, str, str]]:
    """[(key, kind, value)] stated in `text`; the last statement of a key wins."""
    found: dict[str, tuple[str, str, str]] = {}
    for key, kind, pattern in COMPILED:
        match = pattern.search(text)
        if match:
            found[key] = (key, kind, match.group(1).strip().rstrip(" ,;"))
    return list(found.values())


def asks_about_self(text: str) -> bool:
    return bool(ABOUT_ME.search(text))


def describe(memories) -> str:
    if not memories:
        return "I don't know anything about you yet. You can tell me your goals or preferences."
    lines = [f"- {m.key.replace('_', ' ')}: {m.value}" for m in memories]
    return (
        "Here is what I know about you:\n"
        + "\n".join(lines)
        + "\nAsk me to forget anything you'd rather I didn't keep."
    )

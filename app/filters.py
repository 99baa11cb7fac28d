"""How values read on the dashboard: one Jinja filter per kind of value, registered once.

Stored codes ("no_response", "OPT_IN", Role.OWNER) become words, byte counts become
sizes, and a None never reaches a page as the text "None".
"""

import enum

EMPTY = "—"
# Words that keep their own spelling wherever they appear in a code.
WORDS = {
    "ai": "AI",
    "api": "API",
    "faq": "FAQ",
    "html": "HTML",
    "pdf": "PDF",
    "sms": "SMS",
    "url": "URL",
    "whatsapp": "WhatsApp",
}
SIZE_UNITS = ("KB", "MB", "GB", "TB")


def humanize_enum(value, empty: str = EMPTY) -> str:
    """A code as a label: "no_response" → "No response", "OPT_IN" → "Opt in", "sms" → "SMS"."""
    if isinstance(value, enum.Enum):
        value = value.value
    if value is None or str(value).strip() == "":
        return empty
    words = [WORDS.get(word.lower(), word.lower()) for word in str(value).replace("_", " ").split()]
    first = words[0]
    words[0] = first if first in WORDS.values() else first[:1].upper() + first[1:]
    return " ".join(words)


def filesize(value, empty: str = EMPTY) -> str:
    """676 bytes, 1.2 KB, 3.4 MB: binary units, as the upload limit counts them."""
    if value is None:
        return empty
    size = float(value)
    if abs(size) < 1024:
        return "1 byte" if size == 1 else f"{size:g} bytes"
    for unit in SIZE_UNITS:
        size /= 1024
        if abs(round(size, 1)) < 1024 or unit == SIZE_UNITS[-1]:
            return f"{size:.1f}".removesuffix(".0") + f" {unit}"


def _none_as_blank(value):
    """Every {{ expression }} that is None prints nothing (templates give their own "—" where it helps)."""
    return "" if value is None else value


def init_app(app) -> None:
    app.jinja_env.filters["humanize_enum"] = humanize_enum
    app.jinja_env.filters["filesize"] = filesize
    app.jinja_env.finalize = _none_as_blank

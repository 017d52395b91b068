"""File loaders: one function per format, each returning a `LoadedDocument` split into `Section`s.

`load_file(path, max_bytes)` dispatches by extension. Every refusal raises `LoaderError` naming the file, the
reason and what to do, so a batch ingest can report it and go on with the other files.

Sections follow the document's structure: markdown and HTML headings h1-h3 start a section, DOCX "Heading 1-3"
styles start a section, each PDF page is one section (with its page number), and plain text starts a section
at a short stand-alone line in capitals ("1. PROHIBITED BUSINESSES"). Paragraphs inside a section are
separated by a blank line, which the chunker uses as its preferred break.
"""
from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Callable

from indexing.errors import FileTooLarge, LoaderError, UnsupportedFileType
from indexing.types import LoadedDocument, Section

TEXT_FORMATS = {".txt": "txt", ".text": "txt", ".md": "md", ".markdown": "md", ".html": "html", ".htm": "html"}
BINARY_FORMATS = {".pdf": "pdf", ".docx": "docx"}
SUPPORTED_EXTENSIONS = tuple(sorted({**TEXT_FORMATS, **BINARY_FORMATS}))

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)
_TXT_HEADING = re.compile(r"^(\d+(\.\d+)*\.?\s+)?[A-Z0-9][A-Z0-9 ,&/()'\-:]{2,79}$")


def load_file(path: Path | str, max_bytes: int = 20 * 1024 * 1024, source: str | None = None) -> LoadedDocument:
    """Load one file, choosing the loader by its extension.

    Args:
        path: The file to read.
        max_bytes: Files larger than this are refused.
        source: The name the document is stored under (default: the file name).

    Raises:
        LoaderError: The file is missing, too large, empty, binary, encrypted, corrupt or of an unknown type.
    """
    path = Path(path)
    data = read_file(path, max_bytes)
    return load_bytes(path.name if source is None else source, data, label=str(path))


def load_bytes(source: str, data: bytes, label: str | None = None) -> LoadedDocument:
    """Load a document from bytes (an API upload); the format comes from the extension of `source`.

    Args:
        source: The document's name, e.g. "hr/leave-policy.md"; its extension picks the loader.
        data: The file content.
        label: How to name the file in error messages (default: `source`).
    """
    label = label or source
    ext = Path(source).suffix.lower()
    if ext in TEXT_FORMATS:
        fmt = TEXT_FORMATS[ext]
        return _TEXT_LOADERS[fmt](source, _decode_text(data, label))
    if ext in BINARY_FORMATS:
        if not data:
            raise _empty(label)
        return _BINARY_LOADERS[BINARY_FORMATS[ext]](source, data, label)
    raise UnsupportedFileType(label, f"unsupported file type {ext or '(no extension)'!r}",
                              f"convert it to one of {', '.join(SUPPORTED_EXTENSIONS)}")


def load_txt(source: str, text: str) -> LoadedDocument:
    """Plain text: title from a short first line; a short stand-alone line in capitals starts a section."""
    paragraphs = _paragraphs(text)
    _require_text(paragraphs, source)
    title = paragraphs[0] if len(paragraphs[0]) <= 120 and "\n" not in paragraphs[0] else _stem_title(source)
    body = paragraphs[1:] if title == paragraphs[0] and len(paragraphs) > 1 else paragraphs
    builder = _SectionBuilder()
    for paragraph in body:
        if "\n" not in paragraph and _TXT_HEADING.match(paragraph) and len(paragraph.split()) <= 10:
            builder.start(paragraph)
        else:
            builder.add(paragraph)
    return _finish(source, title, "txt", builder, text)


def load_md(source: str, text: str) -> LoadedDocument:
    """Markdown: YAML front matter `title:` or the first `#` heading is the title; `#`-`###` start sections."""
    title = None
    match = _FRONT_MATTER.match(text)
    if match:
        title = _front_matter_title(match.group(1))
        text = text[match.end():]
    builder = _SectionBuilder()
    lines: list[str] = []
    in_code = False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            in_code = not in_code
        heading = None if in_code else _MD_HEADING.match(line)
        if heading and len(heading.group(1)) <= 3:
            builder.add_all(_paragraphs("\n".join(lines)))
            lines = []
            if title is None and len(heading.group(1)) == 1:
                title = heading.group(2)
                builder.start(None)
            else:
                builder.start(heading.group(2))
        else:
            lines.append(line)
    builder.add_all(_paragraphs("\n".join(lines)))
    return _finish(source, title or _stem_title(source), "md", builder, text)


def load_html(source: str, text: str) -> LoadedDocument:
    """HTML: drops script/style; title from <title> or the first <h1>; <h1>-<h3> start sections."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text.replace(_MARK, " "), "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    title_tag = soup.title or soup.find("h1")
    title = title_tag.get_text(" ", strip=True) if title_tag else ""
    if soup.head is not None:
        soup.head.decompose()
    elif soup.title is not None:
        soup.title.decompose()
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for tag in soup.find_all(["h1", "h2", "h3"]):
        tag.replace_with(f"\n\n{_MARK}{tag.get_text(' ', strip=True)}\n\n")
    for tag in soup.find_all(_HTML_BLOCKS):
        tag.insert_before("\n\n")
        tag.insert_after("\n\n")
    builder = _SectionBuilder()
    for paragraph in _paragraphs(soup.get_text()):
        if paragraph.startswith(_MARK):
            heading = paragraph[len(_MARK):].strip()
            title = title or heading
            builder.start(None if heading == title else heading)
        else:
            builder.add(paragraph)
    return _finish(source, title or _stem_title(source), "html", builder, text)


def load_pdf(source: str, data: bytes, label: str | None = None) -> LoadedDocument:
    """PDF via pypdf: one section per page (page numbers from 1); refuses encrypted and corrupt files."""
    from pypdf import PdfReader

    label = label or source
    if not data.lstrip()[:5].startswith(b"%PDF-"):
        raise LoaderError(label, "corrupt", "not a PDF file (no %PDF- header)", "check the file or re-export it as PDF")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise LoaderError(label, "encrypted", "the PDF is encrypted (password protected)",
                              "save an unprotected copy (e.g. print to PDF) and ingest that")
        pages = [(number, page.extract_text() or "") for number, page in enumerate(reader.pages, start=1)]
        title = str((reader.metadata or {}).get("/Title") or "").strip()
    except LoaderError:
        raise
    except Exception as exc:  # pypdf raises many types on damaged files
        raise LoaderError(label, "corrupt", f"the PDF could not be read ({type(exc).__name__}: {exc})",
                          "check the file or re-export it as PDF") from exc
    sections = []
    for number, page_text in pages:
        paragraphs = _paragraphs(page_text)
        if paragraphs:
            sections.append(Section("\n\n".join(paragraphs), heading=None, page=number))
    if not sections:
        raise LoaderError(label, "empty", "the PDF has no extractable text (a scan?)",
                          "run OCR on it first, or ingest a text version")
    first_line = sections[0].text.split("\n", 1)[0].strip()
    title = title or (first_line if len(first_line) <= 120 else _stem_title(source))
    return LoadedDocument(source=source, title=title, format="pdf", sections=tuple(sections))


def load_docx(source: str, data: bytes, label: str | None = None) -> LoadedDocument:
    """DOCX via python-docx: "Title"/"Heading 1-3" paragraph styles start sections; tables become text rows."""
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    label = label or source
    try:
        document = docx.Document(io.BytesIO(data))
        title = (document.core_properties.title or "").strip()
        builder = _SectionBuilder()
        for element in document.element.body.iterchildren():
            tag = element.tag.rsplit("}", 1)[-1]
            if tag == "p":
                title = _docx_paragraph(Paragraph(element, document), builder, title)
            elif tag == "tbl":
                rows = [" | ".join(c.text.strip() for c in row.cells) for row in Table(element, document).rows]
                builder.add("\n".join(r for r in rows if r.strip(" |")))
    except Exception as exc:  # python-docx raises zip/xml/key errors on damaged files
        raise LoaderError(label, "corrupt", f"the DOCX could not be read ({type(exc).__name__}: {exc})",
                          "open it in a word processor and save it again as .docx") from exc
    return _finish(source, title or _stem_title(source), "docx", builder, label=label)


def _docx_paragraph(paragraph, builder: "_SectionBuilder", title: str) -> str:
    text = paragraph.text.strip()
    style = (paragraph.style.name if paragraph.style is not None else "") or ""
    level = re.match(r"Heading ([1-9])$", style)
    if text and style == "Title":
        title = title or text
        builder.start(None if text == title else text)
    elif text and level and int(level.group(1)) <= 3:
        builder.start(text)
    elif text:
        builder.add(text)
    return title


_MARK = "\ue000"  # private-use character: marks a heading line in extracted HTML text
_HTML_BLOCKS = ["p", "div", "li", "pre", "blockquote", "section", "article", "tr", "table", "ul", "ol",
                "dt", "dd", "h4", "h5", "h6", "header", "footer", "main", "nav", "aside", "figure", "figcaption"]


class _SectionBuilder:
    """Collects paragraphs under the current heading; never merges text across headings."""

    def __init__(self) -> None:
        self.sections: list[Section] = []
        self._heading: str | None = None
        self._paragraphs: list[str] = []

    def start(self, heading: str | None) -> None:
        self._flush()
        self._heading = heading

    def add(self, paragraph: str) -> None:
        if paragraph.strip():
            self._paragraphs.append(paragraph.strip())

    def add_all(self, paragraphs: list[str]) -> None:
        for paragraph in paragraphs:
            self.add(paragraph)

    def _flush(self) -> None:
        if self._paragraphs:
            self.sections.append(Section("\n\n".join(self._paragraphs), heading=self._heading))
        self._paragraphs = []

    def done(self) -> tuple[Section, ...]:
        self._flush()
        return tuple(self.sections)


def _finish(source: str, title: str, fmt: str, builder: _SectionBuilder, text: str = "",
            label: str | None = None) -> LoadedDocument:
    sections = builder.done()
    if not sections:
        if text.strip() and fmt != "docx":  # only a title: keep it as the document's one section
            sections = (Section(title),)
        else:
            raise _empty(label or source)
    return LoadedDocument(source=source, title=title.strip(), format=fmt, sections=sections)


def read_file(path: Path, max_bytes: int) -> bytes:
    """Read a file's bytes, refusing a missing, unreadable, empty or too large file (LoaderError)."""
    if not path.is_file():
        raise LoaderError(path, "unreadable", "no such file", "check the path")
    size = path.stat().st_size
    if size > max_bytes:
        raise FileTooLarge(path, f"the file is {size:,} bytes, over the {max_bytes:,}-byte limit",
                           "split it into smaller files or raise RAG_MAX_FILE_BYTES")
    if size == 0:
        raise _empty(path)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise LoaderError(path, "unreadable", f"the file could not be read ({exc.strerror})",
                          "check its permissions") from exc


def _decode_text(data: bytes, label: str) -> str:
    if not data.strip():
        raise _empty(label)
    if b"\x00" in data[:65536]:
        raise LoaderError(label, "binary", "the file contains NUL bytes: it is binary, not text",
                          "give it the right extension or export it as text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoaderError(label, "binary", f"the file is not valid UTF-8 text (byte {exc.start})",
                          "re-save it as UTF-8") from exc


def _paragraphs(text: str) -> list[str]:
    """Paragraphs separated by blank lines; whitespace inside a line collapsed, line breaks kept."""
    out = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n")):
        lines = [" ".join(line.split()) for line in block.split("\n")]
        paragraph = "\n".join(line for line in lines if line)
        if paragraph:
            out.append(paragraph)
    return out


def _require_text(paragraphs: list[str], source: str) -> None:
    if not paragraphs:
        raise _empty(source)


def _empty(label: object) -> LoaderError:
    return LoaderError(label, "empty", "the file is empty (no text to index)", "add content or leave it out")


def _stem_title(source: str) -> str:
    return Path(source).stem.replace("-", " ").replace("_", " ").strip().capitalize()


def _front_matter_title(block: str) -> str | None:
    match = re.search(r"^title:\s*[\"']?(.+?)[\"']?\s*$", block, re.MULTILINE)
    return match.group(1) if match else None


_TEXT_LOADERS: dict[str, Callable[[str, str], LoadedDocument]] = {"txt": load_txt, "md": load_md, "html": load_html}
_BINARY_LOADERS: dict[str, Callable[[str, bytes, str], LoadedDocument]] = {"pdf": load_pdf, "docx": load_docx}

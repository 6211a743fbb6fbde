"""Streaming .xlsx writer for very large reports.

XlsxWriter and openpyxl both need a seekable file and assemble the zip archive at the end, so a
web server cannot send the first byte of a million-row report until the whole workbook exists.
This module writes the OOXML parts itself into a ``zipfile.ZipFile`` opened on a non-seekable
stream; zipfile then writes each member's local header at once and puts the CRC and sizes in a
data descriptor after the data. The small parts ([Content_Types].xml, workbook, relationships,
styles) go out first, then each worksheet is deflated in chunks of about 64 KiB while the rows
are read, so output starts immediately and memory use does not grow with the row count.

Every cell is an inline string (t="inlineStr"): there is no shared-string table to hold in
memory, and values such as "+6581234567" or "0012" stay text. The header row is bold, frozen
and carries an autofilter, and a new sheet is started every ``sheet_rows`` data rows.
"""

import re
import zipfile
from contextlib import suppress
from datetime import datetime
from datetime import timezone
from itertools import compress
from itertools import islice

__all__ = ["write_xlsx", "MAX_SHEET_ROWS", "MAX_COLUMNS"]

MAX_SHEET_ROWS = 1_048_575  # data rows; with the header row that is Excel's 1,048,576
MAX_COLUMNS = 16_384
MAX_SHEET_NAME = 31
MAX_CELL_CHARS = 32_767  # Excel's limit, in UTF-16 code units

_CHUNK_CHARS = 64 * 1024
_TEMPLATE_CACHE = 4096  # row templates for distinct patterns of empty cells
_COMPRESSLEVEL = 1  # level 6 measured 1.6x slower for files only about 20% smaller
# zipfile refuses members over ZIP64_LIMIT (2 GiB) unless ZIP64 was asked for when the member
# was opened, before its size is known; so estimate it, with a 2x margin.
_ZIP64_THRESHOLD = zipfile.ZIP64_LIMIT // 2

_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_DOC_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT_PREFIX = "application/vnd.openxmlformats-officedocument."
_XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

# Characters the fast row path cannot copy verbatim: markup and quotes, every C0 control (tab,
# LF and CR need special handling too), lone surrogates and the non-characters U+FFFE/U+FFFF.
_NEEDS_CARE = re.compile("[&<>\"'\x00-\x1f\ud800-\udfff\ufffe\uffff]").search
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Excel decodes _xHHHH_ in cell text; a literal one is kept by escaping its underscore.
_EXCEL_ESCAPE = re.compile("_(?=x[0-9A-Fa-f]{4}_)")
_XML_SPACE = " \t\n\r"
_BAD_SHEET_CHARS = set("[]:*?/\\")
_END = object()


def _ignore(*_):
    pass


class _Sink:
    """Adapts the caller's stream for zipfile.

    zipfile's wrapper for streams without tell() counts bytes using the return value of
    write(), which many stream-like objects do not provide; empty writes are dropped because
    some transports treat an empty chunk as end of data.
    """

    __slots__ = ("_write", "_flush")

    def __init__(self, stream):
        self._write = stream.write
        self._flush = stream.flush

    def write(self, data):
        if data:
            self._write(data)
        return len(data)

    def flush(self):
        self._flush()

    def detach(self):
        """Swallow all later output, such as the central directory that ZipFile.__del__
        writes: a failed report must not end up looking like a complete workbook."""
        self._write = self._flush = _ignore


def _column_letter(number):
    """Return the column name for a 1-based column number (1 -> A, 27 -> AA)."""
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _excel_width(chars):
    # Excel's stored width includes 5 px of padding at a 7 px digit width (Calibri 11), so
    # this makes the column-width box in Excel show the requested number of characters.
    return int((chars * 7 + 5) / 7 * 256) / 256


def _escape_attr(value):
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def _text_element(value):
    """Return the <t> element for one cell value, or None if nothing is left of it."""
    if _FORBIDDEN.search(value):
        value = _FORBIDDEN.sub("", value)
        if not value:
            return None
    if len(value) * 2 > MAX_CELL_CHARS:
        encoded = value.encode("utf-16-le")
        if len(encoded) > MAX_CELL_CHARS * 2:
            # errors="ignore" drops half of a surrogate pair cut at the limit
            value = encoded[:MAX_CELL_CHARS * 2].decode("utf-16-le", "ignore")
    preserve = bool(value) and (value[0] in _XML_SPACE or value[-1] in _XML_SPACE)
    if "_x" in value:
        value = _EXCEL_ESCAPE.sub("_x005F_", value)
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    if '"' in value:
        value = value.replace('"', "&quot;")
    if "'" in value:
        value = value.replace("'", "&apos;")
    if "\r" in value:
        value = value.replace("\r", "&#13;")  # a literal CR would be read back as LF
    if preserve:
        return '<t xml:space="preserve">' + value + "</t>"
    return "<t>" + value + "</t>"


def _slow_row(rs, row, letters, style=""):
    """Build one <row> cell by cell: handles empty and non-str values and escaping."""
    parts = ['<row r="', rs, '">']
    for letter, value in zip(letters, row):
        if value is None or value == "":
            continue
        text = _text_element(value if isinstance(value, str) else str(value))
        if text is not None:
            parts.append(f'<c r="{letter}{rs}"{style} t="inlineStr"><is>{text}</is></c>')
    parts.append("</row>")
    return "".join(parts)


def _sheet_names(base, count):
    if not isinstance(base, str) or not base.strip():
        raise ValueError("sheet_title must be a non-empty string")
    if (_BAD_SHEET_CHARS.intersection(base) or _FORBIDDEN.search(base)
            or any(char < " " for char in base)):
        raise ValueError(f"sheet_title {base!r} contains a character Excel does not allow")
    if base.startswith("'") or base.endswith("'") or base.lower() == "history":
        raise ValueError(f"sheet_title {base!r} is not allowed by Excel")
    names = []
    for number in range(1, count + 1):
        suffix = "" if number == 1 else f" ({number})"
        names.append(base[:MAX_SHEET_NAME - len(suffix)].rstrip("'") + suffix)
    return names


class _Layout:
    """Everything about the columns that is computed once per workbook."""

    def __init__(self, columns):
        columns = list(columns)
        if not 1 <= len(columns) <= MAX_COLUMNS:
            raise ValueError(f"need between 1 and {MAX_COLUMNS} columns, got {len(columns)}")
        self.ncols = len(columns)
        self.letters = [_column_letter(i) for i in range(1, self.ncols + 1)]
        self.last_letter = self.letters[-1]
        cols = []
        for number, (title, width) in enumerate(columns, 1):
            if title is not None and not isinstance(title, str):
                raise TypeError(f"column title must be str, got {type(title).__name__}")
            if width:
                if not 0 < width <= 255:
                    raise ValueError(f"column width must be between 0 and 255, got {width!r}")
                cols.append(f'<col min="{number}" max="{number}" '
                            f'width="{_excel_width(width)!r}" customWidth="1"/>')
        self.cols_xml = f"<cols>{''.join(cols)}</cols>" if cols else ""
        self.header_xml = _slow_row("1", [title for title, _ in columns], self.letters,
                                    ' s="1"')
        self._templates = {}
        self.full_template = self.template((True,) * self.ncols)

    def template(self, present):
        """Row template for the cells flagged in `present`, or None once the cache is full.

        '%s' takes the values, which must need no escaping; NUL stands for the row number
        (it can never be in such a value: _NEEDS_CARE sends it to the slow path).
        """
        template = self._templates.get(present)
        if template is None and len(self._templates) < _TEMPLATE_CACHE:
            template = self._templates[present] = ('<row r="\x00">' + "".join(
                f'<c r="{letter}\x00" t="inlineStr"><is><t>%s</t></is></c>'
                for letter, flag in zip(self.letters, present) if flag) + "</row>")
        return template


def _package_parts(layout, names, planned):
    """Yield (part name, bytes) for every part except the worksheets, in writing order."""
    count = len(names)
    overrides = [
        f'<Override PartName="/xl/workbook.xml" '
        f'ContentType="{_CT_PREFIX}spreadsheetml.sheet.main+xml"/>',
        *(f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
          f'ContentType="{_CT_PREFIX}spreadsheetml.worksheet+xml"/>'
          for i in range(1, count + 1)),
        f'<Override PartName="/xl/styles.xml" '
        f'ContentType="{_CT_PREFIX}spreadsheetml.styles+xml"/>',
        '<Override PartName="/docProps/core.xml" '
        'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>',
        f'<Override PartName="/docProps/app.xml" '
        f'ContentType="{_CT_PREFIX}extended-properties+xml"/>',
    ]
    yield "[Content_Types].xml", (
        f'{_XML_DECL}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f"{''.join(overrides)}</Types>")

    yield "_rels/.rels", (
        f'{_XML_DECL}<Relationships xmlns="{_PKG_REL_NS}">'
        f'<Relationship Id="rId1" Type="{_DOC_REL_NS}/officeDocument" Target="xl/workbook.xml"/>'
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/'
        'relationships/metadata/core-properties" Target="docProps/core.xml"/>'
        f'<Relationship Id="rId3" Type="{_DOC_REL_NS}/extended-properties" '
        'Target="docProps/app.xml"/></Relationships>')

    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    yield "docProps/core.xml", (
        f"{_XML_DECL}<cp:coreProperties "
        'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{now}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{now}</dcterms:modified>'
        "</cp:coreProperties>")

    yield "docProps/app.xml", (
        f"{_XML_DECL}<Properties xmlns="
        '"http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
        "<Application>plugins.xlsx_report</Application></Properties>")

    sheets = []
    defined = []
    for index, name in enumerate(names):
        sheets.append(f'<sheet name="{_escape_attr(name)}" sheetId="{index + 1}" '
                      f'r:id="rId{index + 1}"/>')
        quoted = name.replace("'", "''")
        # Excel keeps this hidden name next to every autofilter; it cannot be written after
        # the sheets, so it covers the announced rows.
        ref = f"'{quoted}'!$A$1:${layout.last_letter}${planned[index] + 1}"
        defined.append(f'<definedName name="_xlnm._FilterDatabase" localSheetId="{index}" '
                       f'hidden="1">{_escape_attr(ref)}</definedName>')
    yield "xl/workbook.xml", (
        f'{_XML_DECL}<workbook xmlns="{_MAIN_NS}" xmlns:r="{_DOC_REL_NS}">'
        '<bookViews><workbookView activeTab="0"/></bookViews>'
        f"<sheets>{''.join(sheets)}</sheets>"
        f"<definedNames>{''.join(defined)}</definedNames></workbook>")

    rels = [f'<Relationship Id="rId{i}" Type="{_DOC_REL_NS}/worksheet" '
            f'Target="worksheets/sheet{i}.xml"/>' for i in range(1, count + 1)]
    rels.append(f'<Relationship Id="rId{count + 1}" Type="{_DOC_REL_NS}/styles" '
                'Target="styles.xml"/>')
    yield "xl/_rels/workbook.xml.rels", (
        f"{_XML_DECL}<Relationships xmlns=\"{_PKG_REL_NS}\">{''.join(rels)}</Relationships>")

    font = '<sz val="11"/><name val="Calibri"/><family val="2"/>'
    yield "xl/styles.xml", (
        f'{_XML_DECL}<styleSheet xmlns="{_MAIN_NS}">'
        f'<fonts count="2"><font>{font}</font><font><b/>{font}</font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border>'
        '</borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
        '</cellStyleXfs>'
        '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
        '</cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        "</styleSheet>")


def _needs_zip64(sample_bytes, sample_rows, planned_rows):
    """Guess from the first chunk whether a worksheet can grow past the threshold."""
    estimate = sample_bytes / max(sample_rows, 1) * max(planned_rows, sample_rows, 1)
    return estimate >= _ZIP64_THRESHOLD


def _write_sheet(zf, sink, index, rows, layout, planned, capacity):
    """Write xl/worksheets/sheet<index+1>.xml from up to `capacity` rows; return the count."""
    selected = ' tabSelected="1"' if index == 0 else ""
    head = (f'{_XML_DECL}<worksheet xmlns="{_MAIN_NS}" xmlns:r="{_DOC_REL_NS}">'
            f'<sheetViews><sheetView{selected} workbookViewId="0">'
            '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
            '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>'
            f'<sheetFormatPr defaultRowHeight="15"/>{layout.cols_xml}<sheetData>'
            f"{layout.header_xml}")
    part = f"xl/worksheets/sheet{index + 1}.xml"
    ncols = layout.ncols
    letters = layout.letters
    full_template = layout.full_template
    template_for = layout.template
    join = "|".join
    needs_care = _NEEDS_CARE
    chunk_chars = _CHUNK_CHARS
    long_row = MAX_CELL_CHARS // 2
    buf = [head]
    size = len(head)
    fh = None
    r = 1
    try:
        for row in islice(rows, capacity):
            r += 1
            if len(row) != ncols:
                raise ValueError(f"row {r} of sheet {index + 1} has {len(row)} cells, "
                                 f"expected {ncols}")
            if all(row):
                values = row
                template = full_template
            else:
                present = tuple(map(bool, row))
                values = tuple(compress(row, present))
                template = template_for(present)
                if ncols - len(values) != row.count(None) + row.count(""):
                    template = None  # a falsy value other than None and "", such as 0
            joined = None
            if template is not None:
                try:
                    joined = join(values)
                except TypeError:  # a value that is not a str
                    pass
            # The '|' checks catch leading/trailing spaces (xml:space="preserve"); a false
            # alarm only costs the slow path.
            if (joined is None or needs_care(joined) or "_x" in joined or " |" in joined
                    or "| " in joined or joined[:1] == " " or joined[-1:] == " "
                    or len(joined) > long_row):
                line = _slow_row(str(r), row, letters)
            else:
                line = (template % tuple(values)).replace("\x00", str(r))
            buf.append(line)
            size += len(line)
            if size >= chunk_chars:
                data = "".join(buf).encode()
                if fh is None:
                    fh = zf.open(part, "w", force_zip64=_needs_zip64(len(data), r - 1, planned))
                fh.write(data)
                buf = []
                size = 0
        buf.append(f'</sheetData><autoFilter ref="A1:{layout.last_letter}{r}"/>'
                   '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" '
                   'header="0.3" footer="0.3"/></worksheet>')
        data = "".join(buf).encode()
        if fh is None:
            fh = zf.open(part, "w", force_zip64=_needs_zip64(len(data), r - 1, planned))
        fh.write(data)
        fh.close()
    except BaseException:
        sink.detach()
        if fh is not None:  # else its __del__ would close it at some later time
            with suppress(Exception):
                fh.close()
        raise
    return r - 1


def write_xlsx(columns, rows, stream, *, total_rows, sheet_rows=MAX_SHEET_ROWS,
               sheet_title="Report"):
    """Stream an .xlsx workbook of text cells to `stream`.

    columns: sequence of (title, width) pairs; width is in characters as shown by Excel's
        column-width box (0 or None keeps the default width).
    rows: iterable of tuples with one str per column, None or "" for an empty cell. It is
        read lazily, once. Other values are written as str(value); text is cut to Excel's
        32,767 characters and characters XML 1.0 forbids are dropped.
    stream: binary stream needing only write(bytes) and flush(); never seeked or told.
    total_rows: number of rows `rows` will yield. It fixes the number of sheets,
        max(1, ceil(total_rows / sheet_rows)), because the workbook part listing them is
        written before any row is read. Fewer rows leave trailing sheets with just the
        header; extra rows go on filling the last sheet up to `sheet_rows`.
    sheet_rows: data rows per sheet, 1 to 1,048,575 (each sheet also gets the header row).
    sheet_title: base sheet name; sheets are named "Report", "Report (2)", ...

    Raises ValueError for bad arguments, a row of the wrong length, or more rows than the
    announced sheets can hold ("report produced more rows than announced"). After an error
    once writing has begun the output is left without its zip central directory, so it can
    not be mistaken for a complete workbook.
    """
    layout = _Layout(columns)
    if isinstance(total_rows, bool) or not isinstance(total_rows, int) or total_rows < 0:
        raise ValueError(f"total_rows must be a non-negative int, got {total_rows!r}")
    if (isinstance(sheet_rows, bool) or not isinstance(sheet_rows, int)
            or not 1 <= sheet_rows <= MAX_SHEET_ROWS):
        raise ValueError(f"sheet_rows must be between 1 and {MAX_SHEET_ROWS}, "
                         f"got {sheet_rows!r}")
    sheet_count = max(1, -(-total_rows // sheet_rows))
    names = _sheet_names(sheet_title, sheet_count)
    planned = [min(sheet_rows, max(0, total_rows - i * sheet_rows)) for i in range(sheet_count)]
    rows = iter(rows)

    sink = _Sink(stream)
    zf = zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED,
                         compresslevel=_COMPRESSLEVEL)
    try:
        for name, text in _package_parts(layout, names, planned):
            with zf.open(name, "w") as fh:
                fh.write(text.encode())
        sink.flush()  # let the first bytes go out before the first row is produced

        written = 0
        for index in range(sheet_count):
            written = _write_sheet(zf, sink, index, rows, layout, planned[index], sheet_rows)
        if written == sheet_rows and next(rows, _END) is not _END:
            raise ValueError("report produced more rows than announced")
    except BaseException:
        sink.detach()
        raise
    zf.close()

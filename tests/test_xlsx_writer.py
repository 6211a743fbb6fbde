"""The streaming .xlsx writer: workbooks read back with openpyxl, output written to a stream
that can only write and flush."""

import gc
import io
import struct
import tracemalloc
import zipfile

import openpyxl
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from plugins.xlsx_report import writer
from plugins.xlsx_report.writer import write_xlsx

COLUMNS = [("Phone number", 18), ("Code", 6), ("Status", 12)]


class WriteOnlyStream:
    """Like a web response body: write() and flush() only, write() returns None."""

    def __init__(self, keep=True):
        self.keep = keep
        self.chunks = []
        self.bytes_written = 0
        self.writes = 0

    def write(self, data):
        self.writes += 1
        self.bytes_written += len(data)
        if self.keep:
            self.chunks.append(bytes(data))

    def flush(self):
        pass

    def getvalue(self):
        return b"".join(self.chunks)


def write(rows, columns=COLUMNS, total_rows=None, **options):
    rows = list(rows)
    stream = WriteOnlyStream()
    write_xlsx(columns, iter(rows), stream,
               total_rows=len(rows) if total_rows is None else total_rows, **options)
    return stream.getvalue()


def load(data):
    return openpyxl.load_workbook(io.BytesIO(data), read_only=False)


def values(ws):
    return [list(row) for row in ws.iter_rows(values_only=True)]


def sheet_xml(data, number=1):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read(f"xl/worksheets/sheet{number}.xml").decode()


def excel_width(chars):
    """What Excel stores for a column that shows `chars` characters (5 px of padding)."""
    return int((chars * 7 + 5) / 7 * 256) / 256


def test_the_test_stream_cannot_seek_or_tell():
    stream = WriteOnlyStream()
    assert not hasattr(stream, "seek") and not hasattr(stream, "tell")


def test_round_trip_keeps_every_value_as_text():
    rows = [("+6581234567", "0012", "delivered"),
            ("+6590000000", None, "error"),
            (None, None, None),
            ["+15551234567", "1e5", "=SUM(A1)"],
            ("+441234567890", "", "3.50")]
    wb = load(write(rows))
    assert wb.sheetnames == ["Report"]
    ws = wb["Report"]
    assert values(ws) == [["Phone number", "Code", "Status"],
                          ["+6581234567", "0012", "delivered"],
                          ["+6590000000", None, "error"],
                          [None, None, None],
                          ["+15551234567", "1e5", "=SUM(A1)"],
                          ["+441234567890", None, "3.50"]]
    assert ws["A2"].value == "+6581234567" and ws["A2"].data_type == "s"
    assert ws["B2"].value == "0012" and ws["B2"].data_type == "s"
    assert ws["C5"].data_type == "s"  # text, not a formula
    assert ws["B3"].value is None


def test_every_cell_is_an_inline_string_with_its_reference():
    xml = sheet_xml(write([("+6581234567", "0012", None)]))
    assert '<c r="A2" t="inlineStr"><is><t>+6581234567</t></is></c>' in xml
    assert '<c r="B2" t="inlineStr"><is><t>0012</t></is></c>' in xml
    assert 'r="C2"' not in xml


def test_header_is_bold_frozen_filtered_and_sized():
    wb = load(write([("+6581234567", "0012", "delivered")] * 3))
    ws = wb.active
    assert [cell.font.b for cell in ws[1]] == [True, True, True]
    assert not ws["A2"].font.b
    assert ws.freeze_panes == "A2"
    assert ws.sheet_view.pane.state == "frozen"
    assert ws.sheet_view.pane.ySplit == 1
    for letter, (_, width) in zip("ABC", COLUMNS):
        assert ws.column_dimensions[letter].width == excel_width(width)
    assert ws.auto_filter.ref == "A1:C4"


def test_widths_include_excel_padding():
    assert excel_width(18) == 18.7109375
    assert writer._excel_width(18) == 18.7109375


def test_zero_width_keeps_the_default_width():
    data = write([("a", "b", "c")], columns=[("A", 10), ("B", 0), ("C", None)])
    xml = sheet_xml(data)
    assert '<col min="1" max="1"' in xml
    assert 'min="2"' not in xml and 'min="3"' not in xml


def test_rows_are_split_over_sheets_each_with_the_header():
    rows = [(f"+65{n}", str(n), "ok") for n in range(1, 8)]
    wb = load(write(rows, sheet_rows=3))
    assert wb.sheetnames == ["Report", "Report (2)", "Report (3)"]
    header = ["Phone number", "Code", "Status"]
    got = [values(wb[name]) for name in wb.sheetnames]
    assert got == [[header, *map(list, rows[0:3])],
                   [header, *map(list, rows[3:6])],
                   [header, *map(list, rows[6:7])]]
    for ws in wb.worksheets:
        assert ws["A1"].font.b
        assert ws.freeze_panes == "A2"
    assert wb["Report (3)"].auto_filter.ref == "A1:C2"


def test_base_sheet_title_is_used_and_kept_within_31_characters():
    title = "Delivery report for campaign 42"  # 31 characters
    wb = load(write([("a", "b", "c")] * 2, sheet_rows=1, sheet_title=title))
    assert wb.sheetnames == [title, "Delivery report for campaig (2)"]


def test_sheet_titles_may_hold_xml_special_characters():
    wb = load(write([], sheet_title='R&D <"Q1">'))
    assert wb.sheetnames == ['R&D <"Q1">']


@pytest.mark.parametrize("title", ["", " ", "a/b", "a[1]", "what?", "'quoted'", "History",
                                   "tab\there"])
def test_sheet_titles_excel_refuses_are_rejected(title):
    with pytest.raises(ValueError):
        write([], sheet_title=title)


def test_fewer_rows_than_announced_leave_valid_header_only_sheets():
    rows = [("+6581234567", "1", "ok"), ("+6581234568", "2", "ok")]
    wb = load(write(rows, total_rows=7, sheet_rows=3))
    assert wb.sheetnames == ["Report", "Report (2)", "Report (3)"]
    assert values(wb["Report"])[1:] == [list(row) for row in rows]
    for name in ("Report (2)", "Report (3)"):
        assert values(wb[name]) == [["Phone number", "Code", "Status"]]


def test_extra_rows_fill_the_last_announced_sheet():
    rows = [(str(n), str(n), "ok") for n in range(6)]
    wb = load(write(rows, total_rows=4, sheet_rows=3))
    assert wb.sheetnames == ["Report", "Report (2)"]
    assert len(values(wb["Report"])) == 4
    assert values(wb["Report (2)"])[1:] == [list(row) for row in rows[3:]]


def test_more_rows_than_the_announced_sheets_hold_raise():
    rows = [(str(n), str(n), "ok") for n in range(7)]
    stream = WriteOnlyStream()
    with pytest.raises(ValueError, match="report produced more rows than announced") as error:
        write_xlsx(COLUMNS, iter(rows), stream, total_rows=5, sheet_rows=3)
    del error
    gc.collect()  # ZipFile.__del__ would write the central directory if it could
    # The partial output cannot pass for a complete workbook.
    assert not zipfile.is_zipfile(io.BytesIO(stream.getvalue()))


def test_overflow_is_detected_with_the_default_sheet_size():
    rows = [("a", "b", "c")] * 3
    wb = load(write(rows, total_rows=0))  # one announced sheet holds them all
    assert len(values(wb.active)) == 4
    with pytest.raises(ValueError, match="more rows than announced"):
        write(rows, total_rows=0, sheet_rows=2)


def test_special_and_unicode_characters_round_trip():
    rows = [("a & b", "<tag>", "x > y"),
            ('"double"', "it's", "&amp; stays literal"),
            ("Zoë ☎", "😀 👍🏽", "中文 العربية"),
            ("]]>", "%s %d {0}", "\x85 \u2028 \ufeff")]
    wb = load(write(rows))
    assert values(wb.active)[1:] == [list(row) for row in rows]
    xml = sheet_xml(write(rows))
    assert "<t>a &amp; b</t>" in xml and "<t>&lt;tag&gt;</t>" in xml
    assert "&quot;double&quot;" in xml and "it&apos;s" in xml


def test_forbidden_control_characters_are_dropped():
    rows = [("\x00null", "bell\x07", "\x1fmixed\x0b\x0c\x08"),
            ("\ud800lone surrogate", "\ufffe\uffff", "ok")]
    wb = load(write(rows))
    assert values(wb.active)[1:] == [["null", "bell", "mixed"],
                                     ["lone surrogate", None, "ok"]]


def test_whitespace_is_preserved():
    rows = [(" leading", "trailing ", "  "),
            ("\ttab", "line 1\nline 2", "windows\r\nline"),
            ("inner  spaces", "end\n", "\r")]
    wb = load(write(rows))
    assert values(wb.active)[1:] == [list(row) for row in rows]
    assert '<t xml:space="preserve"> leading</t>' in sheet_xml(write(rows))


def test_literal_excel_escape_sequences_are_protected():
    xml = sheet_xml(write([("_x0041_", "a_x000D_b", "_x12_")]))
    # Excel would show _x0041_ as "A"; an escaped underscore keeps the text as typed.
    assert "<t>_x005F_x0041_</t>" in xml
    assert "<t>a_x005F_x000D_b</t>" in xml
    assert "<t>_x12_</t>" in xml


def test_non_string_values_are_written_as_text():
    wb = load(write([(12, 0, 3.5), (True, "x", None)]))
    assert values(wb.active)[1:] == [["12", "0", "3.5"], ["True", "x", None]]


def test_very_long_text_is_cut_to_excel_cell_limit():
    long_text = "é" * 40_000
    emoji = "😀" * 20_000  # two UTF-16 code units each
    wb = load(write([(long_text, emoji, "x")]))
    ws = wb.active
    assert ws["A2"].value == "é" * 32_767
    assert ws["B2"].value == "😀" * 16_383


def test_zero_rows_make_a_header_only_workbook():
    wb = load(write([]))
    assert wb.sheetnames == ["Report"]
    assert values(wb.active) == [["Phone number", "Code", "Status"]]
    assert wb.active.auto_filter.ref == "A1:C1"


def test_more_than_26_columns_get_correct_references():
    columns = [(f"Col {n}", 8) for n in range(1, 31)]
    row = tuple(f"v{n}" for n in range(1, 31))
    data = write([row, row[:26] + (None,) * 4], columns=columns)
    ws = load(data).active
    assert ws["Z2"].value == "v26" and ws["AA2"].value == "v27" and ws["AD2"].value == "v30"
    assert ws["AD3"].value is None
    assert ws.auto_filter.ref == "A1:AD3"
    assert '<c r="AD2" t="inlineStr">' in sheet_xml(data)


@pytest.mark.parametrize("number, letters", [(1, "A"), (26, "Z"), (27, "AA"), (52, "AZ"),
                                             (53, "BA"), (702, "ZZ"), (703, "AAA"),
                                             (16_384, "XFD")])
def test_column_letters(number, letters):
    assert writer._column_letter(number) == letters


def test_workbook_parts_come_first_and_members_use_data_descriptors():
    data = write([("a", "b", "c")] * 10, sheet_rows=4)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        infos = archive.infolist()
    assert names == ["[Content_Types].xml", "_rels/.rels", "docProps/core.xml",
                     "docProps/app.xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels",
                     "xl/styles.xml", "xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml",
                     "xl/worksheets/sheet3.xml"]
    for info in infos:
        assert info.compress_type == zipfile.ZIP_DEFLATED
        assert info.flag_bits & 0x08  # sizes follow the data: the stream was not seeked


def test_output_starts_before_the_rows_are_consumed():
    stream = WriteOnlyStream(keep=False)
    seen = {}

    def rows():
        seen["before_first_row"] = stream.bytes_written
        for n in range(60_000):
            yield (f"+65{80_000_000 + n * 7919 % 10_000_000}", str(n), f"status {n % 13}")
        seen["after_last_row"] = stream.bytes_written

    write_xlsx(COLUMNS, rows(), stream, total_rows=60_000)
    # The package parts are out before any row is read, most of the sheet before the end.
    assert seen["before_first_row"] > 0
    assert seen["after_last_row"] > seen["before_first_row"] + stream.bytes_written // 2
    assert stream.bytes_written > seen["after_last_row"]


def test_memory_stays_flat():
    columns = [(f"Col {n}", 10) for n in range(8)]
    count = 40_000

    def rows():
        for n in range(count):
            yield tuple(f"{n:08d}-{c}" for c in range(8))

    stream = WriteOnlyStream(keep=False)
    tracemalloc.start()
    try:
        write_xlsx(columns, rows(), stream, total_rows=count)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stream.bytes_written > 1_000_000
    # The sheet XML alone is over 16 MB; only a chunk of it is held at a time.
    assert peak < 3_000_000


def test_large_sheets_switch_to_zip64(monkeypatch):
    monkeypatch.setattr(writer, "_ZIP64_THRESHOLD", 0)
    data = write([("+6581234567", "0012", "ok")] * 5)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo("xl/worksheets/sheet1.xml")
        assert archive.testzip() is None
    # Excel needs version 4.5 in the local header when a member uses ZIP64.
    version, = struct.unpack_from("<H", data, info.header_offset + 4)
    assert version == 45
    assert values(load(data).active)[1] == ["+6581234567", "0012", "ok"]


def test_zip64_estimate():
    assert writer._needs_zip64(65_536, 50, 1_048_575)  # about 1.4 GB expected
    assert not writer._needs_zip64(65_536, 200, 1_048_575)  # about 340 MB
    assert not writer._needs_zip64(65_536, 50, 1_000)
    assert not writer._needs_zip64(500, 0, 0)


def test_a_row_of_the_wrong_length_raises():
    with pytest.raises(ValueError, match="has 2 cells, expected 3"):
        write([("a", "b", "c"), ("a", "b")])


@pytest.mark.parametrize("options", [{"total_rows": -1}, {"total_rows": 1.5},
                                     {"total_rows": 1, "sheet_rows": 0},
                                     {"total_rows": 1, "sheet_rows": 1_048_576}])
def test_bad_counts_are_rejected_before_writing(options):
    stream = WriteOnlyStream()
    with pytest.raises(ValueError):
        write_xlsx(COLUMNS, iter([]), stream, **options)
    assert stream.writes == 0


@pytest.mark.parametrize("columns", [[], [("Wide", 256)]])
def test_bad_columns_are_rejected(columns):
    with pytest.raises(ValueError):
        write([], columns=columns)


xml_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(xml_text, xml_text), max_size=5))
def test_any_text_round_trips(rows):
    def expected(value):
        value = writer._FORBIDDEN.sub("", value)
        value = writer._EXCEL_ESCAPE.sub("_x005F_", value)  # openpyxl does not decode it
        return value or None

    wb = load(write(rows, columns=[("A", 10), ("B", 10)]))
    got = [row for row in values(wb.active)[1:]]
    want = [[expected(a), expected(b)] for a, b in rows]
    # openpyxl does not report trailing rows that have no cells at all.
    while want and want[-1] == [None, None]:
        want.pop()
    assert got == want


def test_a_failing_row_source_leaves_no_complete_workbook():
    stream = WriteOnlyStream()

    def rows():
        for n in range(5_000):  # past the first chunk, so a sheet member is open
            yield (str(n), str(n), "ok")
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError, match="database went away") as error:
        write_xlsx(COLUMNS, rows(), stream, total_rows=10_000)
    written = stream.bytes_written
    del error
    gc.collect()
    assert stream.bytes_written == written  # nothing more once the error is out
    assert not zipfile.is_zipfile(io.BytesIO(stream.getvalue()))


def test_a_failing_stream_is_not_written_again():
    class Gone(Exception):
        pass

    class Disconnecting(WriteOnlyStream):
        attempts = 0

        def write(self, data):
            self.attempts += 1
            if self.bytes_written > 20_000:
                raise Gone()
            super().write(data)

    stream = Disconnecting()
    rows = ((f"+65{n}", str(n), f"status {n}") for n in range(50_000))
    with pytest.raises(Gone) as error:
        write_xlsx(COLUMNS, rows, stream, total_rows=50_000)
    del error
    gc.collect()
    assert stream.attempts == stream.writes + 1  # one failed write, no retries afterwards

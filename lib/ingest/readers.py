"""Shared reading and validation for parsers: decode a file, check headers, turn columns into typed values."""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from lib.ingest.errors import IngestError, RowProblem
from lib.ingest.keys import combined_key
from lib.ingest.limits import MAX_LINE_BYTES, MAX_PROBLEMS, clip_raw, quote

ROW = "_row"  # frame column holding each row's 1-based line number in the file (header = 1)
SCAN_BLOCK = 1 << 22


def scan_file(path: Path, file_name: str, digest=None) -> None:
    """Stream a file once: feed its bytes to `digest` (a hashlib object) and refuse it, before
    anything parses it, when a line is longer than MAX_LINE_BYTES (a 200 MB line fails in a second,
    not after 7 GB). Any of LF, CR and CRLF ends a line (UTF-16 newlines hold a LF/CR byte too)."""
    line, run = 1, 0  # current line number, bytes of it seen so far
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(SCAN_BLOCK), b""):
            if digest is not None:
                digest.update(block)
            data = np.frombuffer(block, dtype=np.uint8)
            following = np.append(data[1:], np.uint8(0))
            ends = np.flatnonzero((data == 10) | ((data == 13) & (following != 10)))
            if not ends.size:
                run += len(block)
                if run > MAX_LINE_BYTES:
                    _too_long(file_name, line)
                continue
            lengths = np.diff(ends, prepend=-1)
            lengths[0] += run
            if lengths.max() > MAX_LINE_BYTES:
                _too_long(file_name, line + int(np.argmax(lengths > MAX_LINE_BYTES)))
            line += len(ends)
            run = len(block) - int(ends[-1]) - 1
            if run > MAX_LINE_BYTES:
                _too_long(file_name, line)


def _too_long(file_name: str, line: int) -> None:
    raise IngestError(
        file_name,
        f"line {line} is longer than {MAX_LINE_BYTES // (1 << 20)} MiB: this is not an export "
        "we can read (a line of any source is at most a few kilobytes); nothing was loaded",
    )


def decode_bytes(data: bytes, file_name: str) -> tuple[str, str]:
    """Text and encoding name of a file: UTF-8 (with or without BOM) or UTF-16 with BOM."""
    if not data[:4096].strip() and not data.strip():  # the whole file only when it starts blank
        raise IngestError(file_name, "the file is empty")
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return data.decode(encoding), encoding
    if len(data) > 3 and data[1] == 0 and data[3] == 0:  # UTF-16LE without a BOM
        return data.decode("utf-16-le"), "utf-16-le"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise IngestError(
            file_name,
            f"is not UTF-8 text: byte 0x{data[exc.start]:02x} at line {line} "
            "(is it a Windows-1252/Latin-1 export? Save it as CSV UTF-8 and load it again)",
        ) from None


def read_text(path: Path, file_name: str | None = None) -> tuple[str, str]:
    return decode_bytes(Path(path).read_bytes(), file_name or Path(path).name)


def normalise_newlines(text: str) -> str:
    """CR-only and CRLF line endings become LF (old Moodle/Mac exports end lines with CR only)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def first_line(text: str, limit: int = 120) -> str:
    line = normalise_newlines(text).split("\n", 1)[0]
    return line[:limit]


def sniff_delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (",", "\t", ";")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def read_csv_frame(
    text: str,
    file_name: str,
    required: Iterable[str],
    *,
    delimiter: str | None = None,
    aliases: dict[str, str] | None = None,
) -> pd.DataFrame:
    """All-string frame of a delimited text with a ROW column; checks the required columns exist.

    Header names are matched case- and space-insensitively; aliases maps other spellings to ours.
    """
    text = normalise_newlines(text)
    if text.startswith("\ufeff"):
        text = text[1:]
    header = text.split("\n", 1)[0]
    if not header.strip():
        raise IngestError(file_name, "the first line is empty: expected a header row")
    delimiter = delimiter or sniff_delimiter(header)
    frame = _fast_read(text, delimiter) if len(text) >= FAST_READ_CHARS else None
    if frame is None:
        try:
            frame = pd.read_csv(
                io.StringIO(text),
                sep=delimiter,
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                skip_blank_lines=True,
                engine="c",
            )
        except pd.errors.ParserError as exc:
            raise csv_error(file_name, str(exc)) from None
        except pd.errors.EmptyDataError:
            raise IngestError(file_name, "the file is empty") from None
    frame = frame.rename(columns=lambda c: canonical_name(c, aliases))
    required = list(required)
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise IngestError(
            file_name,
            f"missing column(s) {', '.join(repr(c) for c in missing)}; "
            f"the header is: {header[:200]!r}; expected columns: {', '.join(required)}",
        )
    if frame.empty:
        raise IngestError(file_name, "has a header but no data rows")
    frame[ROW] = line_numbers(text, len(frame))
    return frame


FAST_READ_CHARS = 1 << 20  # texts this long are read by pyarrow's CSV reader first


def _fast_read(text: str, delimiter: str) -> pd.DataFrame | None:
    """A big text read by pyarrow's multi-threaded reader (several times faster than pandas' C
    reader, same all-string frame); None when it refuses the text (ragged rows, a quoted line
    break, duplicate headers...): the C reader then reads it and words its complaint."""
    header = text.split("\n", 1)[0].split(delimiter)
    if len(set(header)) != len(header) or '"' in text:
        return None
    try:
        return pd.read_csv(
            io.BytesIO(text.encode()),
            sep=delimiter,
            dtype=str,
            keep_default_na=False,
            engine="pyarrow",
        )
    except Exception:  # noqa: BLE001 - any refusal: the C reader decides and explains
        return None


def csv_error(file_name: str, text: str) -> IngestError:
    """A CSV reader's complaint as a row-numbered problem where it names a line."""
    fields = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
    if fields:
        expected, line, saw = (int(g) for g in fields.groups())
        problem = RowProblem(
            line,
            None,
            f"has {saw} fields where the header has {expected} (an unquoted delimiter or a "
            "stray quote?)",
        )
        return IngestError(file_name, "cannot be read as CSV", [problem])
    return IngestError(file_name, f"cannot be read as CSV: {quote(text.strip(), 200)}")


def canonical_name(column: str, aliases: dict[str, str] | None = None) -> str:
    key = " ".join(str(column).replace("\ufeff", "").strip().split()).lower()
    if aliases and key in aliases:
        return aliases[key]
    return key.replace(" ", "_") if aliases is None else key


def line_numbers(text: str, rows: int) -> np.ndarray:
    """Line numbers of data rows, assuming one line per row and blank lines skipped (header = 1)."""
    if "\n\n" not in text.rstrip("\n") and '"' not in text:
        return np.arange(2, rows + 2)
    numbers = []
    reader = csv.reader(io.StringIO(text))
    next(reader, None)
    for row in reader:
        if not row or all(not cell.strip() for cell in row):
            continue
        numbers.append(reader.line_num)
    if len(numbers) != rows:  # quoting we could not follow: fall back to positional numbers
        return np.arange(2, rows + 2)
    return np.asarray(numbers)


def _duplicated(keys: pd.DataFrame) -> np.ndarray:
    """keys.duplicated(keep="first"), exactly: each column factorised (arrow's dictionary
    encoding for text; a missing value is a value), the codes combined into one int64 a row
    (lib.ingest.keys), whose repeats are the duplicates (~4x faster than hashing every row's
    strings on millions of rows)."""
    if keys.empty:
        return np.zeros(0, dtype=bool)
    codes = [pd.factorize(keys[c], use_na_sentinel=False)[0] for c in keys.columns]
    return pd.Series(combined_key(codes)).duplicated(keep="first").to_numpy()


PLAIN_NUMBER = r"^(\d{1,15}(\.\d{1,15})?)?$"  # digits, an optional decimal part, or blank


def _plain_numbers(raw: pd.Series) -> pd.Series | None:
    """Floats of a column whose every value is a plain decimal or blank (NaN), converted by
    pyarrow (several times faster than pd.to_numeric on millions of strings); None when any value
    is anything else: pd.to_numeric then reads the column and its problems are worded as ever."""
    try:
        values = pa.array(raw.array) if len(raw) else None
    except (pa.ArrowException, TypeError, ValueError):
        return None
    if values is None or values.null_count:
        return None
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return None
    if not pc.all(pc.match_substring_regex(values, PLAIN_NUMBER)).as_py():
        return None
    blank = pc.equal(values, "")
    numbers = pc.cast(pc.if_else(blank, pa.scalar(None, values.type), values), pa.float64())
    return pd.Series(numbers.to_numpy(zero_copy_only=False), index=raw.index, dtype=float)


class Validator:
    """Collects row problems while columns are converted; a file with problems is not loaded as is."""

    def __init__(self, frame: pd.DataFrame, file_name: str):
        self.frame = frame
        self.file_name = file_name
        self.problems: list[RowProblem] = []
        self.bad = np.zeros(len(frame), dtype=bool)
        self._stripped: dict[str, pd.Series] = {}

    def stripped(self, column: str) -> pd.Series:
        """A column without surrounding spaces (computed once)."""
        if column not in self._stripped:
            self._stripped[column] = self.frame[column].str.strip()
        return self._stripped[column]

    def _add(self, problem: RowProblem) -> None:
        """Keep every row problem (quarantine needs them all) up to MAX_PROBLEMS; past that the
        file is refused whole by one file-level problem."""
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)
        elif len(self.problems) == MAX_PROBLEMS:
            self.problems.append(
                RowProblem(
                    0, None, f"more than {MAX_PROBLEMS:,} bad values: the file is refused whole"
                )
            )

    def flag(self, mask: np.ndarray | pd.Series, column: str | None, problem: str) -> None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        self.bad |= mask
        rows = self.frame[ROW].to_numpy()[mask]
        values = self.frame[column].to_numpy()[mask] if column in self.frame.columns else None
        for i in range(min(len(rows), MAX_PROBLEMS + 1)):
            value = None if values is None else str(values[i])
            text = problem if value is None else f"{problem} (value {quote(value)})"
            self._add(RowProblem(int(rows[i]), column, text, clip_raw(value)))

    def required(self, *columns: str) -> None:
        for column in columns:
            self.flag(self.stripped(column) == "", column, "is empty")

    def text(self, column: str) -> pd.Series:
        return self.stripped(column)

    def date(self, column: str, *, optional: bool = False) -> pd.Series:
        """ISO dates (YYYY-MM-DD); garbage and impossible dates are problems."""
        raw = self.stripped(column)
        parsed = pd.to_datetime(raw, format="%Y-%m-%d", errors="coerce")
        blank = raw == ""
        self.flag(
            parsed.isna() & ~(blank & optional) & ~blank,
            column,
            "is not a valid date (YYYY-MM-DD)",
        )
        if not optional:
            self.flag(blank, column, "is empty")
        return parsed

    def datetime(self, column: str, *, optional: bool = False) -> pd.Series:
        """ISO date or date-time; garbage and impossible values are problems."""
        raw = self.stripped(column)
        parsed = pd.to_datetime(raw, format="ISO8601", errors="coerce")
        if parsed.dt.tz is not None:
            parsed = parsed.dt.tz_convert("Europe/London").dt.tz_localize(None)
        blank = raw == ""
        self.flag(parsed.isna() & ~blank, column, "is not a valid ISO date or date-time")
        if not optional:
            self.flag(blank, column, "is empty")
        return parsed

    def number(
        self,
        column: str,
        *,
        optional: bool = True,
        minimum: float | None = 0,
        maximum: float = 1e15,
        whole: bool = False,
    ) -> pd.Series:
        """Finite numbers in [minimum, maximum] (whole ones when asked); NaN where bad or blank."""
        raw = self.stripped(column)
        parsed = _plain_numbers(raw)
        if parsed is None:
            parsed = pd.to_numeric(raw, errors="coerce").astype(float)
        blank = raw == ""
        self.flag(parsed.isna() & ~blank, column, "is not a number")
        infinite = np.isinf(parsed.to_numpy())
        self.flag(infinite, column, "is not a finite number")
        if not optional:
            self.flag(blank, column, "is empty")
        if minimum is not None:
            self.flag(parsed < minimum, column, f"is below {minimum:g}")
        self.flag(~infinite & (parsed > maximum), column, f"is above {maximum:g}")
        if whole:
            self.flag(~infinite & (parsed % 1 != 0).fillna(False), column, "is not a whole number")
        bad = parsed.isna() | pd.Series(infinite, index=parsed.index) | (parsed > maximum)
        if minimum is not None:
            bad |= parsed < minimum
        return parsed.where(~bad)

    def choice(self, column: str, allowed: Iterable[str], *, lower: bool = True) -> pd.Series:
        allowed = list(allowed)
        raw = self.stripped(column)
        values = raw.str.lower() if lower else raw
        self.flag(~values.isin(allowed), column, f"must be one of {', '.join(allowed)}")
        return values

    def duplicates(self, columns: list[str], what: str) -> None:
        keys = pd.DataFrame({c: self.stripped(c) for c in columns})
        dup = _duplicated(keys)
        if dup.any():
            first = keys.drop_duplicates(keep="first")
            first_rows = pd.Series(
                self.frame.loc[first.index, ROW].to_numpy(),
                index=pd.MultiIndex.from_frame(first)
                if len(columns) > 1
                else first[columns[0]].to_numpy(),
            )
            dup_keys = keys[dup]
            index = (
                pd.MultiIndex.from_frame(dup_keys)
                if len(columns) > 1
                else dup_keys[columns[0]].to_numpy()
            )
            original = first_rows.reindex(index).to_numpy()
            rows = self.frame[ROW].to_numpy()[dup]
            self.bad |= dup
            for row, orig in zip(rows[: MAX_PROBLEMS + 1], original, strict=False):
                self._add(
                    RowProblem(int(row), columns[0], f"duplicate {what}: same as row {int(orig)}")
                )

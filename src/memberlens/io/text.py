"""Sniffing text files: compression, binary content, encoding, delimiter and header.

Only a bounded sample is decoded here, except for the UTF-8 check, which streams the whole file
through an incremental decoder (C speed, constant memory): an export that is ASCII for its first
megabytes and has a single ``£`` (ISO-8859-1) near the end must not be read as UTF-8.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from memberlens.errors import InputError

SAMPLE_BYTES = 1 << 20
CHUNK_BYTES = 1 << 22
DELIMITERS = (",", ";", "\t", "|")
# DuckDB decodes these itself; anything else is transcoded to UTF-8 first.
NATIVE_ENCODINGS = {"utf-8": "utf-8", "utf-8-sig": "utf-8", "latin-1": "latin-1"}
# What users type on a shell for a tab, which does not expand ``\t`` inside quotes.
DELIMITER_ALIASES = {"\\t": "\t", "tab": "\t", "TAB": "\t"}
# A truncated or corrupt gzip stream raises any of these, possibly only far into the file.
READ_ERRORS = (OSError, EOFError, zlib.error)


@dataclass(frozen=True)
class TextFormat:
    """How a delimited text file is laid out."""

    gzipped: bool
    encoding: str
    delimiter: str
    header: tuple[str, ...]


def is_gzipped(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def open_binary(path: Path, gzipped: bool):
    return gzip.open(path, "rb") if gzipped else open(path, "rb")


def unreadable(path: Path, exc: BaseException) -> InputError:
    return InputError(f"{path}: cannot be read ({exc})", "check the file is complete")


def read_sample(path: Path, gzipped: bool, size: int = SAMPLE_BYTES) -> bytes:
    try:
        with open_binary(path, gzipped) as f:
            return f.read(size)
    except READ_ERRORS as exc:
        raise unreadable(path, exc) from exc


def read_chunks(path: Path, gzipped: bool) -> Iterator[bytes]:
    """The whole (decompressed) file in chunks; a read error is an :class:`InputError`."""
    try:
        with open_binary(path, gzipped) as f:
            while chunk := f.read(CHUNK_BYTES):
                yield chunk
    except READ_ERRORS as exc:
        raise unreadable(path, exc) from exc


def looks_binary(sample: bytes) -> bool:
    """A NUL byte outside UTF-16 text means the file is not delimited text."""
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    return b"\x00" in sample[:8192]


def utf16_without_bom(sample: bytes) -> str | None:
    """``utf-16-le`` or ``utf-16-be`` for plain UTF-16 text without a byte-order mark — mostly
    ASCII, so every other byte is NUL and the others never are — else None."""
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None  # with a byte-order mark: detect_encoding's "utf-16"
    even, odd = sample[0::2], sample[1::2]
    n = min(len(even), len(odd))
    if n < 8:
        return None
    even, odd = even[:n], odd[:n]
    if odd.count(0) >= 0.9 * n and even.count(0) == 0:
        return "utf-16-le"
    if even.count(0) >= 0.9 * n and odd.count(0) == 0:
        return "utf-16-be"
    return None


def normalise_encoding_name(name: str) -> str:
    """Map user spellings (``GBK``, ``iso-8859-1``, ``utf8``) onto Python codec names we use."""
    try:
        canonical = codecs.lookup(name).name
    except LookupError as exc:
        raise InputError(f"unknown encoding {name!r}", "use e.g. utf-8, gb18030, latin-1 or cp1252") from exc
    aliases = {"iso8859-1": "latin-1", "gbk": "gb18030", "gb2312": "gb18030"}
    return aliases.get(canonical, canonical)


def whole_file_is_utf8(path: Path, gzipped: bool) -> tuple[bool, bytes]:
    """Stream-decode the file as UTF-8; on failure return the chunk that failed."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    for chunk in read_chunks(path, gzipped):
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError:
            return False, chunk
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False, b""
    return True, b""


def detect_encoding(path: Path, gzipped: bool, sample: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16, GB18030 (covers GBK), cp1252 or ISO-8859-1."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    ok, failing_chunk = whole_file_is_utf8(path, gzipped)
    if ok:
        return "utf-8"
    evidence = failing_chunk or sample
    if looks_chinese(evidence):
        return "gb18030"
    # Single-byte Western text: bytes 0x80-0x9F are printable only in cp1252.
    if any(0x80 <= b <= 0x9F for b in evidence):
        return "cp1252"
    return "latin-1"


_NON_ASCII_RUN = re.compile(rb"[\x80-\xff]+")


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return 0x3000 <= code <= 0x9FFF or 0xFF00 <= code <= 0xFFEF or 0x20000 <= code <= 0x2FFFF


def looks_chinese(evidence: bytes) -> bool:
    """Most runs of non-ASCII bytes decode as GB18030 into Chinese characters and punctuation.

    Western single-byte text has isolated accented letters (``£``, ``é``) whose byte runs are
    odd-length or decode into rare, non-CJK code points.
    """
    runs = _NON_ASCII_RUN.findall(evidence)[:5000]
    if not runs:
        return False
    chinese = 0
    for run in runs:
        try:
            text = run.decode("gb18030")
        except UnicodeDecodeError:
            continue
        chinese += all(_is_cjk(ch) for ch in text)
    return chinese >= 0.8 * len(runs)


def decode_sample(sample: bytes, encoding: str) -> str:
    decoder = codecs.getincrementaldecoder(encoding)("replace")
    return decoder.decode(sample, final=False)


@contextmanager
def _fields_up_to_the_sample() -> Iterator[None]:
    """Let Python's CSV reader take fields as long as the sample (its default limit, 128 KiB,
    failed on a 200 KB description field); the previous limit is restored after."""
    previous = csv.field_size_limit(max(SAMPLE_BYTES * 4, csv.field_size_limit()))
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def detect_delimiter(text: str) -> str:
    """The candidate that splits the first lines into the most, and most consistent, fields."""
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    if len(lines) > 1 and len(text) >= SAMPLE_BYTES - 4:
        lines = lines[:-1]  # the last sampled line may be cut short
    best, best_score = ",", 0.0
    for delimiter in DELIMITERS:
        with _fields_up_to_the_sample():
            counts = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        if not counts or counts[0] < 2:
            continue
        consistent = sum(c == counts[0] for c in counts) / len(counts)
        score = consistent * counts[0]
        if score > best_score:
            best, best_score = delimiter, score
    return best


def read_header(text: str, delimiter: str) -> tuple[str, ...]:
    """The first row's names; lines may end in LF, CRLF or CR alone (old Mac exports)."""
    with _fields_up_to_the_sample():
        first = next(csv.reader(io.StringIO(text, newline=None), delimiter=delimiter), [])
    return tuple(name.strip().lstrip("\ufeff") for name in first)


def check_line_breaks(path: Path, sample: bytes) -> None:
    """Refuse a file whose whole sample (1 MiB) holds no line break: not one row per line (a
    dump written as one long line, a JSON document) — DuckDB would read it as a header of
    hundreds of thousands of columns."""
    if len(sample) >= SAMPLE_BYTES and b"\n" not in sample and b"\r" not in sample:
        raise InputError(
            f"{path}: no line break in its first {SAMPLE_BYTES:,} bytes, so it is not one row per line",
            "a CSV has its header on the first line and one row per line after it; export the table again",
        )


def sniff_text_format(path: Path, *, encoding: str | None = None, delimiter: str | None = None) -> TextFormat:
    """Work out compression, encoding, delimiter and header of a delimited text file."""
    gzipped = is_gzipped(path)
    sample = read_sample(path, gzipped)
    if not sample.strip():
        raise InputError(f"{path}: the file is empty", "export the table again with its header row")
    chosen = normalise_encoding_name(encoding) if encoding else utf16_without_bom(sample)
    if not (chosen or "").startswith(("utf-16", "utf-32")) and looks_binary(sample):
        raise InputError(
            f"{path}: looks like a binary file, not CSV text",
            "memberlens reads CSV (optionally gzip'd), Parquet and .xlsx files; "
            "for UTF-16 text without a byte-order mark pass --encoding utf-16-le (or utf-16-be)",
        )
    check_line_breaks(path, sample)  # in UTF-16 too a line break holds a 0x0A byte
    chosen = chosen or detect_encoding(path, gzipped, sample)
    text = decode_sample(sample, chosen)
    delimiter = DELIMITER_ALIASES.get(delimiter, delimiter) if delimiter is not None else None
    if delimiter is not None and len(delimiter) != 1:
        raise InputError(
            f"delimiter {delimiter!r} must be a single character", "e.g. --delimiter ';' (or --delimiter tab)"
        )
    sep = delimiter or detect_delimiter(text)
    header = read_header(text, sep)
    return TextFormat(gzipped=gzipped, encoding=chosen, delimiter=sep, header=header)


def transcode_to_utf8(path: Path, fmt: TextFormat, target: Path) -> None:
    """Write a UTF-8 copy of a non-UTF-8 file (streamed, bounded memory)."""
    decoder = codecs.getincrementaldecoder(fmt.encoding)("strict")
    try:
        with open(target, "w", encoding="utf-8", newline="") as dst:
            for chunk in read_chunks(path, fmt.gzipped):
                dst.write(decoder.decode(chunk))
            dst.write(decoder.decode(b"", final=True))
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not valid {fmt.encoding} text near byte {exc.start}",
            "pass the right encoding with --encoding (e.g. utf-8, gb18030, latin-1)",
        ) from exc

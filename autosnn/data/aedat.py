"""Readers for the jAER/iniVation AEDAT container versions the official event datasets ship in.

- AEDAT 2.0 (CIFAR10-DVS, DVS128 sensor): ``#`` header lines, then big-endian
  ``(uint32 address, uint32 timestamp_us)`` pairs.
- AEDAT 3.1 (DVS128 Gesture originals): ``#`` header lines ending in ``#!END-HEADER``, then
  packets with a 28-byte little-endian header ``(int16 type, int16 source, int32 size,
  int32 ts_offset, int32 ts_overflow, int32 capacity, int32 number, int32 valid)``; polarity
  packets (type 1) hold 8-byte events ``(uint32 data, int32 timestamp)`` with x in bits 17..31,
  y in bits 2..16, polarity in bit 1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from autosnn.core.errors import DataError
from autosnn.data.events import Events

POLARITY_EVENT = 1


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: unreadable ({exc})") from None


def split_header(raw: bytes, path: Path, version: str) -> tuple[str, int]:
    """Return (header text, offset of the binary data); the header is every line starting '#'.

    AEDAT 3.x ends the header explicitly with ``#!END-HEADER``; binary data can itself start with
    a ``#`` byte, so for 3.x we stop there rather than at the first non-``#`` line.
    """
    if not raw.startswith(b"#!AER-DAT" + version.encode()):
        found = raw[:14].split(b"\r")[0].split(b"\n")[0]
        raise DataError(
            f"{path}: not an AEDAT {version} file (starts with {found!r}, expected "
            f"'#!AER-DAT{version}')"
        )
    pos = 0
    lines: list[str] = []
    while pos < len(raw) and raw[pos : pos + 1] == b"#":
        end = raw.find(b"\n", pos)
        end = len(raw) if end < 0 else end + 1
        line = raw[pos:end].decode("latin-1").rstrip("\r\n")
        lines.append(line)
        pos = end
        if line.startswith("#!END-HEADER"):
            break
    return "\n".join(lines), pos


def read_aedat2_dvs128(path: Path, origin: str) -> Events:
    """Decode a DVS128 AEDAT 2.0 recording (CIFAR10-DVS).

    Address bits follow the DVS128 layout (x in bits 1..7, y in bits 8..14, polarity bit 0); the
    orientation and polarity follow spikingjelly's CIFAR10-DVS reader, whose authors checked it
    against the dataset's own ``dat2mat.m``: ``x = 127 - y_raw``, ``y = 127 - x_raw``,
    ``p = 1 - bit0``.
    """
    raw = _read(path)
    try:
        _, start = split_header(raw, path, "2.0")
    except DataError as exc:
        raise DataError(f"{exc}; {origin}") from None
    body = raw[start:]
    if len(body) % 8:
        raise DataError(
            f"{path}: {len(body)} data bytes is not a whole number of 8-byte "
            f"(address, timestamp) events; the file is truncated; {origin}"
        )
    words = np.frombuffer(body, dtype=">u4").astype(np.int64)
    addr, t = words[0::2], words[1::2]
    x_raw = (addr >> 1) & 0x7F
    y_raw = (addr >> 8) & 0x7F
    return Events.of(x=127 - y_raw, y=127 - x_raw, t=t, p=1 - (addr & 1))


def read_aedat31_polarity(path: Path, origin: str) -> Events:
    """Decode the polarity events of an AEDAT 3.1 recording (DVS128 Gesture originals).

    Timestamps are widened with each packet's overflow counter: ``t = overflow << 31 | ts``.
    """
    raw = _read(path)
    try:
        _, pos = split_header(raw, path, "3.1")
    except DataError as exc:
        raise DataError(f"{exc}; {origin}") from None
    header_dtype = np.dtype([
        ("type", "<i2"), ("source", "<i2"), ("size", "<i4"), ("ts_offset", "<i4"),
        ("ts_overflow", "<i4"), ("capacity", "<i4"), ("number", "<i4"), ("valid", "<i4"),
    ])
    event_dtype = np.dtype([("data", "<u4"), ("ts", "<i4")])
    xs, ys, ts, ps = [], [], [], []
    while pos < len(raw):
        if pos + 28 > len(raw):
            raise DataError(f"{path}: truncated packet header at byte {pos}; {origin}")
        head = np.frombuffer(raw, dtype=header_dtype, count=1, offset=pos)[0]
        pos += 28
        size, capacity = int(head["size"]), int(head["capacity"])
        nbytes = size * capacity
        if size <= 0 or not 0 <= int(head["number"]) <= capacity or pos + nbytes > len(raw):
            raise DataError(
                f"{path}: packet at byte {pos - 28} announces {capacity} events of {size} bytes "
                f"beyond the end of the file; the file is truncated or corrupt; {origin}"
            )
        if int(head["type"]) == POLARITY_EVENT:
            if size != 8:
                raise DataError(f"{path}: polarity events of {size} bytes, expected 8; {origin}")
            ev = np.frombuffer(raw, dtype=event_dtype, count=int(head["number"]), offset=pos)
            data = ev["data"].astype(np.int64)
            xs.append((data >> 17) & 0x7FFF)
            ys.append((data >> 2) & 0x7FFF)
            ps.append((data >> 1) & 1)
            ts.append((int(head["ts_overflow"]) << 31) | ev["ts"].astype(np.int64))
        pos += nbytes
    if not xs:
        return Events.of([], [], [], [])
    t = np.concatenate(ts)
    if t.size and t.min() < 0:  # int32 timestamps and overflow counters are never negative
        raise DataError(f"{path}: negative timestamp {t.min()} (a damaged packet); the file is "
                        f"corrupt; {origin}")
    return Events.of(np.concatenate(xs), np.concatenate(ys), t, np.concatenate(ps))


def read_aedat4(path: Path, origin: str) -> Events:
    """Decode the first event stream of an AEDAT 4 file (tonic's CIFAR10-DVS re-encoding).

    AEDAT 4 packs flatbuffers, usually LZ4- or Zstd-compressed; like tonic we leave that to the
    optional ``aedat`` package (imported only here) instead of re-implementing the codecs.
    """
    try:
        import aedat
    except ImportError:
        raise DataError(
            f"{path}: AEDAT 4 files need the optional 'aedat' package (pip install aedat), "
            f"or use the original AEDAT 2.0 .aedat files; {origin}"
        ) from None
    try:
        decoder = aedat.Decoder(str(path))
        streams = [sid for sid, s in decoder.id_to_stream().items() if s["type"] == "events"]
        if not streams:
            raise DataError(f"{path}: no event stream in this AEDAT 4 file; {origin}")
        target = min(streams)
        packets = [p["events"] for p in decoder if p["stream_id"] == target and "events" in p]
    except DataError:
        raise
    except Exception as exc:  # the decoder raises its own types for corrupt files
        raise DataError(f"{path}: not a readable AEDAT 4 file ({exc}); {origin}") from None
    if not packets:
        return Events.of([], [], [], [])
    ev = np.concatenate(packets)
    t, x, y, p = ev.dtype.names[:4]  # (t, x, y, on), the field order tonic relies on too
    return Events.of(ev[x], ev[y], ev[t], ev[p])

"""Time as the text sources write it, parsed in one place.

UTC offsets (``Z``, ``±hh:mm``, ``±hhmm``, ``±hh``), fraction-of-second digits, leap
seconds, month names, local wall times in a zone with daylight-saving
disambiguation (:class:`Localizer`), the Unix epoch; and, for the column-wise
parsers, the same calendar arithmetic over numpy arrays of dates.

References: RFC 3339; PEP 495 (local time disambiguation); H. Hinnant, "chrono-
Compatible Low-Level Date Algorithms" (``days_from_civil``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

import numpy as np

from .textcols import unique

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_NAIVE = datetime(1970, 1, 1)
US = timedelta(microseconds=1)
US_MIN = 60_000_000
US_HOUR = 3_600_000_000
US_DAY = 86_400_000_000

MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                      "Nov", "Dec"), 1)}

_ZERO = timedelta(0)
_OFFSETS: dict[str, tuple[timedelta, bool]] = {}


def micros(frac: str | None) -> int:
    """Fraction-of-second digits as microseconds: padded, or cut, to six digits."""
    return int((frac + "00000")[:6]) if frac else 0


def leap_second(sec: int, us: int) -> tuple[int, int]:
    """(second, microsecond) with a leap second (second 60) read as 59.999999: the
    clock's own way of saying the last instant of the minute."""
    return (59, 999_999) if sec == 60 else (sec, us)


def utc_offset(text: str | None, *, checked: bool = False) -> timedelta | None:
    """``Z`` / ``±hh[[:]mm]`` (None or empty: UTC) as a timedelta. ``checked``: None
    when the hours pass 23 or the minutes 59; else any two-digit fields are taken."""
    if not text or text in "Zz":
        return _ZERO
    hit = _OFFSETS.get(text)
    if hit is None:
        digits = text[1:].replace(":", "")
        hh, mm = int(digits[:2]), int(digits[2:] or 0)
        off = timedelta(hours=hh, minutes=mm)
        hit = (-off if text[0] == "-" else off, hh <= 23 and mm <= 59)
        if len(_OFFSETS) < 256:
            _OFFSETS[text] = hit
    return hit[0] if hit[1] or not checked else None


def rfc3339_utc(y: str, mo: str, d: str, hh: str, mi: str, ss: str, frac: str | None, zone: str | None) -> datetime:
    """The matched fields of an RFC 3339 time as UTC, a leap second read as 59.999999.
    Raises ValueError or OverflowError for a date or time that does not exist."""
    sec, us = leap_second(int(ss), micros(frac))
    wall = datetime(int(y), int(mo), int(d), int(hh), int(mi), sec, us, tzinfo=UTC)
    return wall - utc_offset(zone)  # type: ignore[operator]


def note_zone(data: dict[str, Any], resolution: str | None, fold: int) -> None:
    """Record in an event's ``data`` how a local time was resolved (``tz_resolution``,
    and ``tz_fold`` for an ambiguous one), when it needed resolving."""
    if resolution is not None:
        data["tz_resolution"] = resolution
        if resolution == "ambiguous":
            data["tz_fold"] = fold


class Localizer:
    """Local wall time in ``tz`` -> UTC, with explicit DST disambiguation.

    Offsets are cached per local minute: zone transitions fall on whole minutes.
    """

    __slots__ = ("tz", "cache", "pytz", "prev_ambiguous", "fold", "hours")

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        self.cache: dict[tuple[int, int, int, int, int], tuple[timedelta, timedelta, str | None]] = {}
        self.pytz = hasattr(tz, "localize")
        self.prev_ambiguous: datetime | None = None
        self.fold = 0
        self.hours: dict[int, int | None] = {}

    def _offsets(self, key: tuple[int, int, int, int, int]) -> tuple[timedelta, timedelta, str | None]:
        naive = datetime(*key)
        tz = self.tz
        if self.pytz:  # pytz ignores fold; its localize() reports the two cases itself
            try:
                off = tz.localize(naive, is_dst=None).utcoffset()  # type: ignore[attr-defined]
                return off, off, None
            except Exception as exc:  # noqa: BLE001 - pytz's AmbiguousTimeError / NonExistentTimeError
                first = tz.localize(naive, is_dst=True).utcoffset()  # type: ignore[attr-defined]
                second = tz.localize(naive, is_dst=False).utcoffset()  # type: ignore[attr-defined]
                if "Ambiguous" in type(exc).__name__:
                    return first, second, "ambiguous"
                return second, second, "nonexistent"
        off0 = naive.replace(tzinfo=tz, fold=0).utcoffset() or timedelta(0)
        off1 = naive.replace(tzinfo=tz, fold=1).utcoffset() or timedelta(0)
        if off0 == off1:
            return off0, off0, None
        # PEP 495: in a fall-back overlap fold=0 is the earlier (larger) offset; in a
        # spring-forward gap fold=0 is the offset before the change (the smaller one).
        return (off0, off1, "ambiguous") if off0 > off1 else (off0, off0, "nonexistent")

    def offsets(self, key: tuple[int, int, int, int, int]) -> tuple[timedelta, timedelta, str | None]:
        """(offset of the first occurrence, of the second, resolution) of a local minute."""
        hit = self.cache.get(key)
        if hit is None:
            hit = self._offsets(key)
            if len(self.cache) >= 4096:
                self.cache.clear()
            self.cache[key] = hit
        return hit

    def to_utc(self, y: int, mo: int, d: int, h: int, mi: int, s: int, us: int) -> tuple[datetime, str | None, int]:
        off0, off1, resolution = self.offsets((y, mo, d, h, mi))
        wall = datetime(y, mo, d, h, mi, s, us, tzinfo=UTC)
        if resolution != "ambiguous":
            return wall - off0, resolution, 0
        prev = self.prev_ambiguous
        if prev is None or abs(wall - prev) > timedelta(hours=3):
            self.fold = 0  # a new overlap (or the first one): start with the first occurrence
        elif wall < prev - timedelta(minutes=10):
            self.fold = 1  # local time went back inside the overlap: the repeated hour
        self.prev_ambiguous = wall
        return wall - (off1 if self.fold else off0), resolution, self.fold

    def hour_offsets(self, wall: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """UTC offset (micros) of each local wall time (micros since the epoch, naive),
        and whether it is unambiguous: per local hour, from the offsets at its first
        and last minute (an hour whose two agree has no change inside: zones change at
        most once an hour). Hours with a change, or ambiguous or non-existent, are
        not known."""
        hours = wall // US_HOUR
        if not len(hours):
            return np.zeros(0, np.int64), np.zeros(0, bool)
        uh, inv = unique(hours)
        off = np.zeros(len(uh), np.int64)
        known = np.zeros(len(uh), bool)
        cache = self.hours
        for j, h in enumerate(uh.tolist()):
            hit = cache.get(h, False)
            if hit is False:
                t = EPOCH_NAIVE + timedelta(hours=h)
                key = (t.year, t.month, t.day, t.hour)
                a = self.offsets(key + (0,))
                b = self.offsets(key + (59,))
                hit = a[0] // US if a == b and a[2] is None else None
                if len(cache) >= 4096:
                    cache.clear()
                cache[h] = hit
            if hit is not None:
                off[j] = hit
                known[j] = True
        return off[inv], known[inv]


# --- column-wise ------------------------------------------------------------------------

_MDAYS = np.array((0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31), np.int64)


def days_from_civil(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's algorithm)."""
    y = y - (m <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    doy = (153 * (m + np.where(m > 2, -3, 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def valid_dates(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Which (year, month, day) exist; ``m`` must be 1 to 12."""
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    return (d >= 1) & (d <= _MDAYS[m] + ((m == 2) & leap))


def micros_columns(digits: np.ndarray, count: np.ndarray) -> np.ndarray:
    """``micros`` over rows: the first ``count[i]`` of the digit values in row ``i`` of
    ``digits`` (at least six columns), padded or cut to six digits."""
    us = np.zeros(len(digits), np.int64)
    for j in range(6):
        us = us * 10 + np.where(count > j, digits[:, j], 0)
    return us


def leap_columns(ss: np.ndarray, us: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``leap_second`` over arrays of seconds and microseconds."""
    leap = ss == 60
    return np.where(leap, 59, ss), np.where(leap, 999_999, us)

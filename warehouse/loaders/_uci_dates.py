"""The invoice date spellings found in UCI Online Retail extracts, parsed vectorised."""

from __future__ import annotations

import pandas as pd

from warehouse.loaders._files import InputFile

_TIME = r"\s+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?$"
_SLASH = r"^(?P<a>\d{1,2})/(?P<b>\d{1,2})/(?P<year>\d{4}|\d{2})" + _TIME  # 12/1/2010 8:26, 2/20/11 11:39
_ISO = r"^(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})[ T]" + _TIME.removeprefix(r"\s+")  # 2010-12-01 08:26:00
_DOTS = r"^(?P<day>\d{1,2})\.(?P<month>\d{1,2})\.(?P<year>\d{4})" + _TIME  # 01.12.2010 08:26
ACCEPTED = "M/D/YYYY H:MM, M/D/YY H:MM, YYYY-MM-DD HH:MM[:SS] or DD.MM.YYYY HH:MM"


def parse_invoice_dates(inp: InputFile, values: pd.Series, lines: pd.Series) -> pd.Series:
    """Timestamps for ``values``; slashed dates are month-first (UCI's own layout) unless the file shows otherwise."""
    text = values.fillna("").str.strip()
    parts = []
    slash = text.str.extract(_SLASH)
    matched = slash["a"].notna()
    if matched.any():
        a, b = slash["a"].astype(float), slash["b"].astype(float)
        day_first = bool((a[matched] > 12).any())  # a file written day-first shows days above 12 up front
        slash["month"], slash["day"] = (b, a) if day_first else (a, b)
        parts.append(slash[matched])
    for pattern in (_ISO, _DOTS):
        found = text[~matched].str.extract(pattern)
        hit = found["year"].notna()
        parts.append(found[hit])
        matched = matched | hit.reindex(text.index, fill_value=False)
    fields = pd.concat(parts).reindex(text.index)
    year = fields["year"].astype(float)
    fields["year"] = year.where(year >= 100, year + 2000)
    fields["second"] = fields["second"].fillna(0)
    stamps = pd.to_datetime(fields[["year", "month", "day", "hour", "minute", "second"]].astype(float), errors="coerce")
    bad = stamps.isna()
    if bad.any():
        first = bad.idxmax()
        value = values.at[first]
        problem = "the date is empty" if not value else f"{value!r} is not a date this loader reads"
        raise inp.fail(problem, f"write dates as {ACCEPTED}", line=int(lines.at[first]), column="InvoiceDate")
    return stamps.astype("datetime64[us]")

"""Monthly periods of the regular allowance, anchored on the account's first reset date."""
from __future__ import annotations

import calendar
from datetime import datetime


def add_months(moment: datetime, months: int) -> datetime:
    """Same day-of-month and time, `months` later; the day is clamped to the month's length (Jan 31 + 1 = Feb 29)."""
    month_index = moment.month - 1 + months
    year = moment.year + month_index // 12
    month = month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def next_reset_after(anchor: datetime, moment: datetime) -> datetime:
    """The first reset strictly after `moment`, counting whole months from `anchor`.

    Counting from the anchor (not from the last reset) keeps the day-of-month: an account anchored on the 31st
    resets Feb 29, Mar 31, Apr 30, not drifting to the 29th for ever.
    """
    months = max(0, (moment.year - anchor.year) * 12 + (moment.month - anchor.month) - 1)
    while (candidate := add_months(anchor, months)) <= moment:
        months += 1
    return candidate

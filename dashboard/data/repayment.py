"""Queries of the repayment & risk page."""

from __future__ import annotations

import pandas as pd

from dashboard.data.connection import query
from dashboard.data.scope import Filters


VINTAGE_SQL = """
select cohort, months_on_book, score_band, bills, dpd30_bills, dpd30_rate
from mart.vintage_curve
where score_band = coalesce($band, 'all')
  and cohort between strftime($start, '%Y-%m') and strftime($end, '%Y-%m')
order by cohort, months_on_book
"""


def vintage(f: Filters) -> pd.DataFrame:
    return query(VINTAGE_SQL, f.params())

"""Queries of the conversion & stickiness page."""

from __future__ import annotations

import pandas as pd

from dashboard.data.connection import query
from dashboard.data.scope import Filters


RETENTION_SQL = """
select strftime(cohort_month, '%Y-%m') as cohort, months_since, cohort_users, active_users,
       retention
from mart.cohort_retention
where cohort_month between date_trunc('month', $start::date) and $end
order by cohort_month, months_since
"""


def retention(f: Filters) -> pd.DataFrame:
    return query(RETENTION_SQL, f.params())

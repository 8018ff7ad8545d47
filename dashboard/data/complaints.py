"""Queries of the complaints & opt-outs page (narratives masked)."""

from __future__ import annotations

import pandas as pd

from dashboard.data.connection import query
from dashboard.data.masking import mask_frame
from dashboard.data.scope import Filters, scoped


COMPLAINTS_MONTHLY_SQL = """
select date_trunc('month', local_date)::date as month, category, source,
       count(*) as complaints
from mart.complaints_classified
where local_date between $start and $end and {user_in_scope}
group by all
order by all
"""


def complaints_monthly(f: Filters) -> pd.DataFrame:
    return query(scoped(COMPLAINTS_MONTHLY_SQL), f.params())


RESOLUTION_SQL = """
select source, count(*) as complaints,
       count(resolved_at) as resolved,
       median(resolution_hours) as median_hours,
       quantile_cont(resolution_hours, 0.9) as p90_hours
from mart.complaints_classified
where local_date between $start and $end and {user_in_scope}
group by source
order by source
"""


def resolution(f: Filters) -> pd.DataFrame:
    return query(scoped(RESOLUTION_SQL), f.params())


NARRATIVES_SQL = """
select strftime(timezone('Asia/Shanghai', received_at), '%Y-%m-%d %H:%M') as received,
       source, category, status, narrative
from mart.complaints_classified
where local_date between $start and $end and {user_in_scope}
order by received_at desc, complaint_id
limit $limit
"""


def narratives(f: Filters, limit: int = 20) -> pd.DataFrame:
    df = query(scoped(NARRATIVES_SQL), {**f.params(), "limit": limit})
    return mask_frame(df)

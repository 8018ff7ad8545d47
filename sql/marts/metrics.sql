-- mart.metrics: the long-format metric table of metrics.md, created empty here and filled
-- by the metrics_* files, one metric family per file.
create or replace table mart.metrics (
    metric varchar,
    grain varchar,
    period date,
    segment varchar,
    value double,
    numerator double,
    denominator double
)

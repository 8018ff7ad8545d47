"""The Spark session as a Dagster resource, for the `spark` engine of the marts.

`local[*]` unless NUDGESCOPE_SPARK_MASTER (or the resource's `master`) names a cluster, e.g.
`spark://host:7077`, `yarn`, `k8s://https://…`. The session starts on first use, so runs
with the duckdb engine never start a JVM; it is not stopped at the end of a step, because
pyspark shares one session per process and the process ends with the run's step anyway.
"""

# No `from __future__ import annotations`: Dagster reads the field annotations at runtime.
from typing import TYPE_CHECKING

import dagster as dg

from pipelines.engines import session as spark_settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


class SparkResource(dg.ConfigurableResource):
    """A pyspark session: local[*] by default, or the master URL given."""

    master: str = spark_settings.DEFAULT_MASTER
    # "key=value;key=value" Spark settings on top of the engine's own (see engines.session)
    conf: str = ""

    def get_session(self) -> "SparkSession":
        return spark_settings.spark_session(self.master, conf=spark_settings.extra_conf(self.conf))


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "spark": SparkResource(master=spark_settings.master_url()),
        }
    )

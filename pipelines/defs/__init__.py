"""The Dagster definitions of nudgescope, autoloaded by `pipelines.definitions`."""

"""nudgescope: ingestion, metrics and publishing for a pay-later programme's messaging."""

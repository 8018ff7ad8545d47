"""Ingestion: landing files → validated staging → core winners → the published database."""

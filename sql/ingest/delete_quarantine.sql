-- Forget the quarantined rows of files that are being replaced or were removed.
delete from ingest.quarantine
where source = $source and path in (select unnest($paths::varchar[]))

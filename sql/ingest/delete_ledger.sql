-- Forget the ledger rows of files that are being replaced or were removed.
delete from ingest.file_ledger
where source = $source and path in (select unnest($paths::varchar[]))

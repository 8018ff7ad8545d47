-- Forget the stat cache rows of the given files.
delete from ingest.file_stat
where path in (select unnest($paths::varchar[]))

-- Remember size, mtime and hash of files just read (from the temp table new_stat).
insert into ingest.file_stat
select path, size, mtime_ns, content_hash
from new_stat

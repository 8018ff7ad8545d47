-- Size and modification time of each file when it was last hashed: an unchanged stat means an
-- unchanged file, so re-runs do not re-read content they already know.
create table if not exists ingest.file_stat (
    path varchar not null,
    size bigint not null,
    mtime_ns bigint not null,
    content_hash varchar not null
)

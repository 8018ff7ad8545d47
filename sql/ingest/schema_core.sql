-- The core schema: the current winner of every primary key, one table per source.
create schema if not exists core

-- The mart schema; every other file in this folder writes a table in it.
create schema if not exists mart

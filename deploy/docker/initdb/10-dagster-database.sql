-- Dagster's own storage lives beside the domain database on the same server (DESIGN.md: everything shared is
-- in Postgres). The official postgres image runs this once, when the data volume is created.
CREATE DATABASE dagster;

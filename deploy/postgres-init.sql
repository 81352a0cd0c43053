-- Vigil: create the application role. Runs once, when the postgres container initialises
-- an empty data directory (docker-entrypoint-initdb.d), connected as the owner role
-- (POSTGRES_USER = vigil) to the vigil database.
--
-- Two roles, on purpose:
--   vigil      owns the database, schema and tables; used only by migrations
--              (VIGIL_MIGRATION_DATABASE_URL).
--   vigil_app  what the API and workers connect as (VIGIL_DATABASE_URL). It is not the
--              owner, not a superuser and has NOBYPASSRLS, so PostgreSQL row-level
--              security policies apply to every query it runs; owners and superusers would
--              skip them and tenant isolation would silently depend on app code alone.
--
-- The password comes from the container environment (VIGIL_APP_DB_PASSWORD) via psql's
-- \getenv (psql >= 15), so no secret is stored in this file.
-- Safe to re-run by hand: psql -v ON_ERROR_STOP=1 -U vigil -d vigil -f postgres-init.sql

\set ON_ERROR_STOP on

\getenv app_password VIGIL_APP_DB_PASSWORD
\if :{?app_password}
\else
  \set app_password ''
\endif
SELECT :'app_password' = '' AS app_password_missing \gset
\if :app_password_missing
  DO $$ BEGIN RAISE EXCEPTION 'VIGIL_APP_DB_PASSWORD is not set; refusing to create vigil_app'; END $$;
\endif

-- CREATE ROLE has no IF NOT EXISTS; \gexec runs the statement only when the role is new.
SELECT 'CREATE ROLE vigil_app'
WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'vigil_app')
\gexec

-- Attributes are (re)asserted every run, so a hand-made role cannot keep BYPASSRLS.
ALTER ROLE vigil_app WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
    PASSWORD :'app_password';

SELECT format('GRANT CONNECT ON DATABASE %I TO vigil_app', current_database())
\gexec

-- Table, sequence and function privileges for vigil_app are granted by the migrations
-- (they know which tables the app may write and which are append-only). Do NOT add a
-- blanket ALTER DEFAULT PRIVILEGES ... GRANT ALL here: it would widen those grants.

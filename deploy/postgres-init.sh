#!/bin/sh
# Run once by the postgres image on an empty data folder (docker-entrypoint-initdb.d): the two roles memdash
# connects as. memdash_store owns the store's schema (it creates and migrates it); memdash_app owns nothing and
# gets only what `memdash state init --grant memdash_app` gives it on the state, so no dashboard can drop the
# triggers that keep the audit log append-only. Passwords come from deploy/memdash.env, never from this file.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v store_pw="$MEMDASH_STORE_PASSWORD" -v app_pw="$MEMDASH_STATE_PASSWORD" <<'SQL'
CREATE ROLE memdash_store LOGIN PASSWORD :'store_pw';
CREATE ROLE memdash_app LOGIN PASSWORD :'app_pw';
GRANT CREATE ON DATABASE memdash TO memdash_store;
SQL

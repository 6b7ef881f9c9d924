#!/bin/sh
# Runs once, when the PostgreSQL volume is first initialised (docker-entrypoint-initdb.d):
# one database and one login role per service, so neither service can read the other's tables.
set -eu
: "${AUTH_DB_PASSWORD:?AUTH_DB_PASSWORD must be set}"
: "${CHAT_DB_PASSWORD:?CHAT_DB_PASSWORD must be set}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v auth_password="$AUTH_DB_PASSWORD" -v chat_password="$CHAT_DB_PASSWORD" <<'SQL'
CREATE ROLE auth LOGIN PASSWORD :'auth_password';
CREATE DATABASE auth OWNER auth;
REVOKE ALL ON DATABASE auth FROM PUBLIC;
CREATE ROLE chat LOGIN PASSWORD :'chat_password';
CREATE DATABASE chat OWNER chat;
REVOKE ALL ON DATABASE chat FROM PUBLIC;
SQL

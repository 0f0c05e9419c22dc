#!/usr/bin/env bash
# The secrets deploy/compose.yaml reads, as files in deploy/secrets/ (git-ignored): random
# passwords for PostgreSQL's administrator and Redis, and the files that carry them to each
# service. Owned by the containers' user (uid 10001), mode 0600; existing files are kept.
set -euo pipefail
folder="$(cd "$(dirname "$0")" && pwd)/secrets"
mkdir -p "$folder"
chmod 0700 "$folder"
random() { python3 -c 'import secrets; print(secrets.token_urlsafe(32))'; }
write() {  # write NAME CONTENT: only if absent, never readable by others
    local path="$folder/$1"
    [[ -e $path ]] && { echo "kept $path"; return; }
    (umask 077 && printf '%s\n' "$2" > "$path")
    echo "wrote $path"
}
if [[ ! -e $folder/postgres_password ]]; then
    database=$(random)
    write postgres_password "$database"
    write pgpass "postgres:5432:rempart:rempart:$database"
fi
if [[ ! -e $folder/redis.conf ]]; then
    redis=$(random)
    write redis.conf "$(printf 'bind * -::*\nport 6379\nrequirepass %s\nsave ""\nappendonly no\nmaxmemory 512mb\nmaxmemory-policy volatile-lru' "$redis")"
    write redis_url "redis://:$redis@redis:6379/0"
fi
if [[ $(id -u) -eq 0 ]]; then
    chown -R 10001 "$folder"
fi

#!/bin/sh
# Write Haven's secrets as files that only their owner can read (mode 0600).
#
#   make-secrets.sh DIR OWNER              secret_key, encryption_keys, audit_keys
#   make-secrets.sh DIR OWNER DBHOST       also postgres_password and pgpass, for the containers
#                                          (deploy/container/compose.yaml)
#
# DIR (made if missing) is given to OWNER with mode 0700.  Needs python3 for the random values.
# A file that is already there is kept: new encryption or audit keys would leave the values and the
# audit chain made under the old ones unreadable.  Rotation is described in docs/configuration.md.
set -eu

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: $0 DIR OWNER [DBHOST]" >&2
    exit 2
fi
dir=$1
owner=$2
dbhost=${3:-}

mkdir -p "$dir"  # any missing parents as usual (others may need to pass through them)
chmod 0700 "$dir"
chown "$owner" "$dir"
umask 077

key() {
    # 32 random bytes, URL-safe base64: the form HAVEN_ENCRYPTION_KEYS and HAVEN_AUDIT_KEYS take.
    python3 -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())'
}

token() {
    python3 -c 'import secrets; print(secrets.token_urlsafe(50))'
}

write() {
    name=$1
    shift
    if [ -e "$dir/$name" ]; then
        echo "kept $dir/$name"
        return
    fi
    "$@" > "$dir/$name.new"
    chmod 0600 "$dir/$name.new"
    chown "$owner" "$dir/$name.new"
    mv "$dir/$name.new" "$dir/$name"
    echo "wrote $dir/$name"
}

write secret_key token
write encryption_keys key
write audit_keys key

if [ -n "$dbhost" ]; then
    write postgres_password token
    # The postgres image reads its password file as the user postgres, not as OWNER.
    chmod 0644 "$dir/postgres_password"
    pgpass() { printf '%s:5432:haven:haven:%s\n' "$dbhost" "$(cat "$dir/postgres_password")"; }
    write pgpass pgpass
fi

# shellcheck shell=bash
# Shared by the bench runners (test/bench/run, routing, reports), sourced
# after scripts/lib.sh: one throwaway cluster per run, unix socket only, in
# a private folder, stopped and removed on exit.
#
#   oms_bench_cluster PREFIX PORT [FILE...] <<CONF
#   ...settings for postgresql.conf...
#   CONF
#
# checks the packages, builds and installs oms from a staged copy of the
# tree, creates the folder $WORK (prefix PREFIX, with logs/ and scripts/,
# the FILEs copied into scripts/), runs initdb, appends the socket settings
# and the settings on stdin, and starts the server. Sets TREE, WORK and
# PSQL (superuser psql on the bench socket). On exit the server stops and
# the folder goes, unless KEEP=1 or the runner failed: then it is kept and
# its path printed. A runner that set up more (network namespaces) defines
# oms_bench_teardown, which is called first.

oms_bench_cleanup() {
    local rc=$?
    if declare -F oms_bench_teardown >/dev/null; then oms_bench_teardown || true; fi
    if [ -n "${WORK:-}" ] && [ -f "$WORK/data/postmaster.pid" ]; then
        oms_as_pg "$PGBIN/pg_ctl" -D "$WORK/data" -m fast stop >/dev/null 2>&1 \
            || oms_as_pg "$PGBIN/pg_ctl" -D "$WORK/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    if [ -n "${WORK:-}" ]; then
        if [ "${KEEP:-0}" = 1 ] || [ "$rc" -ne 0 ]; then
            oms_log "cluster folder and logs kept in $WORK"
        else
            rm -rf "$WORK"
        fi
    fi
    if [ -n "${TREE:-}" ] && oms_is_root && [ "$TREE" != "$ROOT" ]; then rm -rf "$TREE"; fi
}

oms_bench_cluster() {
    local prefix="$1" port="$2"
    shift 2
    oms_ensure_packages
    WORK=""
    TREE="$(oms_stage_tree "$ROOT")"
    trap oms_bench_cleanup EXIT
    trap 'exit 130' INT TERM
    oms_build_install "$TREE"

    WORK="$(mktemp -d "${TMPDIR:-/tmp}/$prefix.XXXXXX")"
    mkdir -p "$WORK/scripts" "$WORK/logs"
    if [ "$#" -gt 0 ]; then cp "$@" "$WORK/scripts/"; fi
    if oms_is_root; then chown -R "$OMS_RUN_USER": "$WORK"; fi
    oms_log "starting a throwaway cluster in $WORK"
    oms_as_pg "$PGBIN/initdb" -D "$WORK/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >"$WORK/logs/initdb.log" 2>&1 \
        || { cat "$WORK/logs/initdb.log" >&2; oms_die "initdb failed"; }
    { printf "listen_addresses = ''\nunix_socket_directories = '%s'\nport = %s\n" "$WORK" "$port"; cat; } \
        | oms_as_pg tee -a "$WORK/data/postgresql.conf" >/dev/null
    oms_as_pg "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/logs/server.log" -w start >/dev/null \
        || { cat "$WORK/logs/server.log" >&2; oms_die "the bench cluster did not start"; }
    # shellcheck disable=SC2034  # used by the runners
    PSQL=(oms_as_pg "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$WORK" -p "$port" -U postgres)
}

# oms_bench_vacuum_analyze DB: VACUUM ANALYZE the tables of schemas oms and
# appside (if present) in DB. Tables that were never analyzed are left
# alone until they have some size, for the reason given at the end of
# setup.sql.
oms_bench_vacuum_analyze() {
    "${PSQL[@]}" -d "$1" -At >/dev/null <<'SQL'
SELECT format('VACUUM ANALYZE %s', c.oid::regclass)
  FROM pg_class c
 WHERE c.relnamespace IN (SELECT oid FROM pg_namespace WHERE nspname IN ('oms', 'appside'))
   AND c.relkind = 'r' AND (c.reltuples >= 0 OR pg_relation_size(c.oid) >= 131072)
 ORDER BY 1 \gexec
SQL
}

# oms_ratio A B: A / B with 2 decimals; "-" when either is missing or B is 0
oms_ratio() {
    if [ -n "$1" ] && [ -n "$2" ]; then
        awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'
    else
        printf -- '-'
    fi
}

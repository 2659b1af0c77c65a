# shellcheck shell=bash
# Shared by test/run and demo/run: package checks, build, install, and
# running commands as the unprivileged user that owns PostgreSQL processes.
#
# PostgreSQL refuses to run as root. When these scripts run as root (CI
# does), the server and the suites run as the "postgres" system user, from a
# copy of the tree that user owns; installing into the system PostgreSQL is
# the only step done as root. A normal user runs everything as themselves and
# needs sudo only for apt-get and make install.

OMS_PG_MAJOR=15
OMS_PACKAGES="postgresql-15 postgresql-server-dev-15 postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl libipc-run-perl make gcc libc6-dev sqlsmith python3-psycopg python3-psycopg-pool valgrind postgresql-15-cron nodejs node-pg postgresql-15-auto-failover pg-auto-failover-cli postgresql-15-plproxy"
OMS_RUN_USER=postgres

oms_log() { printf '==> %s\n' "$*" >&2; }
oms_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

oms_is_root() { [ "$(id -u)" -eq 0 ]; }

# run a command with root rights: directly as root, through sudo otherwise
oms_as_root() {
    if oms_is_root; then "$@"; else
        command -v sudo >/dev/null || oms_die "need root for: $* (sudo is not installed)"
        sudo "$@"
    fi
}

# run a command as the user that owns the PostgreSQL processes
oms_as_pg() {
    if oms_is_root; then
        runuser -u "$OMS_RUN_USER" -- env PATH="$PATH" "$@"
    else
        "$@"
    fi
}

# Debian's node-pg needs Debian's nodejs (libnode108). A machine that carries
# another build (NodeSource's nodejs 20, say) gets Debian's back: prints
# "nodejs=VERSION" for apt-get when the installed nodejs is not Debian's.
oms_debian_nodejs() {
    local have want
    have="$(dpkg-query -W -f='${Version}' nodejs 2>/dev/null || true)"
    case "$have" in ""|*dfsg*) return 0 ;; esac
    want="$(apt-cache madison nodejs | awk -F'|' '$2 ~ /dfsg/ {gsub(/ /, "", $2); print $2; exit}')"
    [ -n "$want" ] && echo "nodejs=$want"
}

oms_ensure_packages() {
    local missing="" p
    for p in $OMS_PACKAGES; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
            missing="$missing $p"
        fi
    done
    if [ -n "$missing" ]; then
        oms_log "installing Debian packages:$missing"
        oms_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        # shellcheck disable=SC2086
        oms_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends --allow-downgrades \
            $missing $(oms_debian_nodejs) >/dev/null
    fi
    PG_CONFIG="${OMS_PG_CONFIG:-/usr/lib/postgresql/$OMS_PG_MAJOR/bin/pg_config}"
    [ -x "$PG_CONFIG" ] || oms_die "$PG_CONFIG not found"
    PGBIN="$("$PG_CONFIG" --bindir)"
    PGXS_DIR="$(cd "$(dirname "$("$PG_CONFIG" --pgxs)")/../.." && pwd)"
    PATH="$PGBIN:$PATH"
    export PG_CONFIG PGBIN PGXS_DIR PATH
    if oms_is_root; then
        id "$OMS_RUN_USER" >/dev/null 2>&1 || oms_die "system user $OMS_RUN_USER is missing (it comes with postgresql-common)"
    fi
}

# oms_build_install DIR [extra make args...]: build in DIR as the owner of
# DIR, then install into the system PostgreSQL with root rights.
oms_build_install() {
    local dir="$1"; shift
    oms_log "building in $dir"
    oms_as_pg make -s -C "$dir" PG_CONFIG="$PG_CONFIG" clean >/dev/null
    oms_as_pg make -s -C "$dir" PG_CONFIG="$PG_CONFIG" "$@"
    oms_log "installing into $("$PG_CONFIG" --sharedir)/extension"
    oms_as_root make -s -C "$dir" PG_CONFIG="$PG_CONFIG" install >/dev/null
}

# oms_stage_tree SRC: as root, copy the tree to a fresh directory owned by
# the PostgreSQL user (the checkout may sit where that user cannot write or
# even read, such as /root); as a normal user, use the tree in place.
# Prints the directory to use.
oms_stage_tree() {
    local src="$1" dst
    if oms_is_root; then
        dst="$(mktemp -d /tmp/oms-stage.XXXXXX)"
        tar -C "$src" --exclude=./.git --exclude=./.demo --exclude=./results \
            --exclude=./output_iso --exclude=./tmp_check -cf - . | tar -C "$dst" -xf -
        chown -R "$OMS_RUN_USER": "$dst"
        echo "$dst"
    else
        echo "$src"
    fi
}

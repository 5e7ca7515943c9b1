#!/usr/bin/env bash
# Private PostgreSQL clusters for tests: a coordinator (with rollup preloaded) and N stock workers, on
# loopback only, in a temporary directory, from a private copy of the installed PostgreSQL. It never
# touches the system installation, the system's clusters or port 5432.
#
# Library (source test/cluster.sh):
#   cluster_install            private tree: copy of pg_config's bindir and sharedir, symlinks to the
#                              files of its pkglibdir, then `make -f build.mk install DESTDIR=<tree>`
#   cluster_start <workers>    start worker_1..worker_N, then the coordinator; exports COORDINATOR_PORT,
#                              WORKER_<i>_PORT, PGHOST, PGPORT, PGUSER; registers cluster_stop on EXIT/INT/TERM/HUP
#   cluster_stop               stop every server started here; remove the temp dir unless KEEP=1
#   cluster_psql <port> [psql args]       psql as postgres on 127.0.0.1:<port> (database postgres
#                                         unless PGDATABASE or an argument says otherwise)
#   cluster_node_stop <name> [fast|immediate], cluster_node_start <name>   (fault tests)
#   CLUSTER_REPORT_FILES+=(file)          printed (head) when the script exits with a failure
#   CLUSTER_CHILD_PIDS+=(pid)             a background job of the caller, sent SIGTERM on exit
# CLI:
#   test/cluster.sh install                 build the tree in $ROLLUP_PG_TREE (default tmp_check/pgtree)
#   test/cluster.sh run [N] [-- cmd args]   start N workers (default 2), run cmd (default: an
#                                           interactive shell) with the env above, stop everything
#   test/cluster.sh start [N]               start and leave running; prints how to stop it
#   test/cluster.sh stop <dir>              stop a cluster left running by `start`
# Settings (environment):
#   PG_CONFIG              pg_config of the PostgreSQL to copy (default: pg_config on PATH)
#   ROLLUP_PG_TREE         where to build the private tree (default: inside the temp dir); kept
#   ROLLUP_EXTRA_CONF      extra postgresql.conf lines for every node (newline separated)
#   ROLLUP_COORDINATOR_CONF  extra postgresql.conf lines for the coordinator only
#   KEEP=1                 keep the temp dir (data dirs, logs) after stopping
#   CLUSTER_OS_USER        OS user running the servers when invoked as root (default postgres)
#
# Must never: kill a process it did not start, leave a server running after the calling script exits,
# or rm -rf a directory it did not create.

CLUSTER_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${PG_CONFIG:=pg_config}"
: "${CLUSTER_OS_USER:=postgres}"

CLUSTER_BASE=""          # temp dir: data dirs, sockets, logs (and the tree unless ROLLUP_PG_TREE)
CLUSTER_TREE=""          # private PostgreSQL tree
CLUSTER_BINDIR=""        # bindir inside the tree
CLUSTER_NODES=()         # node names, in start order
declare -gA CLUSTER_PORT=() CLUSTER_DATADIR=()
CLUSTER_REPORT_FILES=()
CLUSTER_CHILD_PIDS=()    # background processes of the caller to end (SIGTERM) before stopping servers
_CLUSTER_TRAP_SET=0
_CLUSTER_BASE_OWNED=0    # 1 when we created CLUSTER_BASE (only then do we delete it)

_cluster_log() { echo "cluster: $*" >&2; }
_cluster_err() { echo "cluster: ERROR: $*" >&2; return 1; }

# Runs a command as the servers' OS user (initdb refuses root). Without root, runs as ourselves.
_cluster_as_pg() {
    if [ "$(id -u)" = 0 ]; then
        (cd / && runuser -u "$CLUSTER_OS_USER" -- "$@")
    else
        "$@"
    fi
}

_cluster_ensure_base() {
    [ -n "$CLUSTER_BASE" ] && return 0
    local parent=${TMPDIR:-/tmp}
    # unix socket paths are limited to 107 bytes: keep the socket directory short
    [ ${#parent} -gt 60 ] && parent=/tmp
    CLUSTER_BASE=$(mktemp -d "$parent/rollup-cluster.XXXXXX") || _cluster_err "mktemp failed" || return 1
    _CLUSTER_BASE_OWNED=1
    chmod 755 "$CLUSTER_BASE"
    if [ "$(id -u)" = 0 ]; then
        chown "$CLUSTER_OS_USER:" "$CLUSTER_BASE" || return 1
    fi
}

# The tree mirrors pg_config's absolute paths (tree/usr/lib/postgresql/15/bin, ...), so that
# PostgreSQL's relocatable-path logic, which resolves share and lib relative to the running binary,
# finds the tree's share and lib directories.
cluster_install() {
    _cluster_ensure_base || return 1
    local tree=${ROLLUP_PG_TREE:-$CLUSTER_BASE/pgtree}
    mkdir -p "$tree" || return 1
    tree=$(cd "$tree" && pwd -P)
    [ "$tree" != / ] || _cluster_err "refusing to use / as the private tree" || return 1
    if [ -n "$(ls -A "$tree")" ] && [ ! -e "$tree/.rollup-pgtree" ]; then
        _cluster_err "$tree is not empty and was not made by cluster.sh; choose another ROLLUP_PG_TREE"
        return 1
    fi
    touch "$tree/.rollup-pgtree"

    local bindir pkglibdir sharedir
    bindir=$("$PG_CONFIG" --bindir) && pkglibdir=$("$PG_CONFIG" --pkglibdir) &&
        sharedir=$("$PG_CONFIG" --sharedir) || _cluster_err "$PG_CONFIG failed" || return 1
    _cluster_log "private PostgreSQL tree in $tree (from $bindir)"

    rm -rf "${tree:?}$bindir" "${tree:?}$pkglibdir" "${tree:?}$sharedir"
    mkdir -p "$tree$bindir" "$tree$pkglibdir" "$tree$sharedir" || return 1
    # real copies: a symlinked binary would resolve its paths relative to the system installation
    cp -RL "$bindir/." "$tree$bindir/" || return 1
    cp -RL "$sharedir/." "$tree$sharedir/" || return 1
    # real directories, symlinked files: `make install` must never write through a symlink into the
    # system's pkglibdir (e.g. bitcode/rollup/ when PGXS installs LLVM bitcode)
    cp -Rs "$pkglibdir/." "$tree$pkglibdir/" || return 1
    find "$tree$pkglibdir" -name 'rollup*' -type l -delete
    # drop any system-installed copy of our extension: the tree must hold exactly this build
    rm -f "$tree$sharedir"/extension/rollup.control "$tree$sharedir"/extension/rollup--*.sql

    local log=$CLUSTER_BASE/install.log
    if ! env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS \
        make -C "$CLUSTER_REPO" -f build.mk install DESTDIR="$tree" PG_CONFIG="$PG_CONFIG" \
        >"$log" 2>&1 </dev/null; then
        tail -n 40 "$log" >&2
        _cluster_err "make -f build.mk install DESTDIR=$tree failed (log above)"
        return 1
    fi
    if [ ! -f "$tree$pkglibdir/rollup.so" ] || [ -L "$tree$pkglibdir/rollup.so" ]; then
        _cluster_err "make install did not put a real rollup.so into $tree$pkglibdir"
        return 1
    fi
    chmod -R a+rX "$tree"

    local reloc
    reloc=$("$tree$bindir/pg_config" --sharedir)
    if [ "$reloc" != "$tree$sharedir" ]; then
        _cluster_err "relocation check failed: $tree$bindir/pg_config --sharedir says $reloc"
        return 1
    fi
    if ! _cluster_as_pg test -x "$tree$bindir/postgres"; then
        _cluster_err "user $CLUSTER_OS_USER cannot run $tree$bindir/postgres (a parent directory is not readable?)"
        return 1
    fi
    CLUSTER_TREE=$tree
    CLUSTER_BINDIR=$tree$bindir
}

_cluster_port_in_use() {
    local p=$1 n
    for n in "${CLUSTER_NODES[@]}"; do
        [ "${CLUSTER_PORT[$n]:-}" = "$p" ] && return 0
    done
    [ -e "$CLUSTER_BASE/.s.PGSQL.$p" ] && return 0
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && return 0
    if command -v ss >/dev/null 2>&1; then
        [ -n "$(ss -Hant "( sport = :$p )" 2>/dev/null)" ] && return 0
    fi
    return 1
}

# Sets _CLUSTER_PICKED to a free port below Linux's ephemeral range (outgoing connections use that).
_cluster_pick_port() {
    local i p
    for ((i = 0; i < 500; i++)); do
        p=$((15000 + (${SRANDOM:-$RANDOM} % 17000)))
        if ! _cluster_port_in_use "$p"; then
            _CLUSTER_PICKED=$p
            return 0
        fi
    done
    _cluster_err "no free port found"
}

_cluster_pg_ctl() { _cluster_as_pg "$CLUSTER_BINDIR/pg_ctl" "$@"; }

_cluster_init_node() {
    local name=$1
    local dir=$CLUSTER_BASE/$name tmpl=$CLUSTER_BASE/initdb-template
    if [ ! -d "$tmpl" ]; then
        # one initdb, copied for every node: initdb is the slow part of starting a cluster
        if ! _cluster_as_pg "$CLUSTER_BINDIR/initdb" -D "$tmpl" -U postgres -A trust --no-sync \
            -E UTF8 --locale=C >"$CLUSTER_BASE/initdb.log" 2>&1; then
            cat "$CLUSTER_BASE/initdb.log" >&2
            _cluster_err "initdb failed"
            return 1
        fi
        echo "include 'rollup_cluster.conf'" >>"$tmpl/postgresql.conf"
    fi
    cp -a "$tmpl" "$dir" || return 1
    CLUSTER_DATADIR[$name]=$dir
}

# The per-start settings, rewritten at every start (the port may change on a retry).
_cluster_write_conf() {
    local name=$1 port=$2 dir=${CLUSTER_DATADIR[$1]}
    {
        echo "# written by test/cluster.sh at every start"
        echo "listen_addresses = '127.0.0.1'"
        echo "port = $port"
        echo "unix_socket_directories = '$CLUSTER_BASE'"
        echo "max_connections = 200"
        echo "max_prepared_transactions = 100"
        echo "fsync = off"
        echo "log_line_prefix = '%m [%p] %q%a '"
        if [ "$name" = coordinator ]; then
            echo "shared_preload_libraries = 'rollup'"
            echo "regress.coordinator_port = $port"
            local n
            for n in "${CLUSTER_NODES[@]}"; do
                case $n in worker_*) echo "regress.${n}_port = ${CLUSTER_PORT[$n]}" ;; esac
            done
        fi
        [ -n "${ROLLUP_EXTRA_CONF:-}" ] && printf '%s\n' "$ROLLUP_EXTRA_CONF"
        if [ "$name" = coordinator ] && [ -n "${ROLLUP_COORDINATOR_CONF:-}" ]; then
            printf '%s\n' "$ROLLUP_COORDINATOR_CONF"
        fi
    } >"$dir/rollup_cluster.conf"
    [ "$(id -u)" = 0 ] && chown "$CLUSTER_OS_USER:" "$dir/rollup_cluster.conf"
    return 0
}

_cluster_start_server() {
    local name=$1 attempt port before
    local dir=${CLUSTER_DATADIR[$name]} log=$CLUSTER_BASE/$name.log
    for attempt in 1 2 3 4 5; do
        _cluster_pick_port || return 1
        port=$_CLUSTER_PICKED
        CLUSTER_PORT[$name]=$port
        _cluster_write_conf "$name" "$port"
        before=$(stat -c %s "$log" 2>/dev/null || echo 0)
        if _cluster_pg_ctl -D "$dir" -l "$log" -w -t 120 -s start >/dev/null 2>&1; then
            _cluster_log "$name: 127.0.0.1:$port (data $dir, log $log)"
            return 0
        fi
        # pg_ctl may have timed out with the postmaster still up: make sure it is gone
        _cluster_pg_ctl -D "$dir" -m immediate -w -s stop >/dev/null 2>&1
        if tail -c +"$((before + 1))" "$log" 2>/dev/null |
            grep -qE 'could not bind|Address already in use|could not create any TCP/IP sockets|lock file .* already exists'; then
            _cluster_log "$name: port $port was taken meanwhile, retrying (attempt $attempt)"
            continue
        fi
        break
    done
    tail -n 30 "$log" >&2
    _cluster_err "$name did not start (log above: $log)"
    return 1
}

_cluster_export_env() {
    local n i=0 env=$CLUSTER_BASE/env.sh
    export PGHOST=127.0.0.1 PGUSER=postgres
    export COORDINATOR_PORT=${CLUSTER_PORT[coordinator]} PGPORT=${CLUSTER_PORT[coordinator]}
    export CLUSTER_BASE CLUSTER_BINDIR
    {
        echo "export PGHOST=127.0.0.1 PGUSER=postgres PGPORT=$PGPORT COORDINATOR_PORT=$COORDINATOR_PORT"
        echo "export CLUSTER_BINDIR='$CLUSTER_BINDIR'"
    } >"$env"
    for n in "${CLUSTER_NODES[@]}"; do
        case $n in
        worker_*)
            i=${n#worker_}
            export "WORKER_${i}_PORT=${CLUSTER_PORT[$n]}"
            echo "export WORKER_${i}_PORT=${CLUSTER_PORT[$n]}" >>"$env"
            ;;
        esac
    done
    # state for `cluster.sh stop <dir>`
    {
        echo "CLUSTER_TREE='$CLUSTER_TREE'"
        echo "CLUSTER_BINDIR='$CLUSTER_BINDIR'"
        echo "CLUSTER_NODES=(${CLUSTER_NODES[*]})"
        for n in "${CLUSTER_NODES[@]}"; do
            echo "CLUSTER_PORT[$n]=${CLUSTER_PORT[$n]}"
            echo "CLUSTER_DATADIR[$n]='${CLUSTER_DATADIR[$n]}'"
        done
    } >"$CLUSTER_BASE/state.sh"
}

# cluster_start <workers>: worker_1..worker_<workers>, then the coordinator (its settings name the
# workers' ports). Stops everything on EXIT/INT/TERM of the calling shell unless told otherwise
# (CLUSTER_NO_TRAP=1, used by `cluster.sh start`).
cluster_start() {
    local workers=${1:-2} i
    [[ $workers =~ ^[0-9]+$ ]] || _cluster_err "cluster_start: bad worker count '$workers'" || return 1
    [ ${#CLUSTER_NODES[@]} -eq 0 ] || _cluster_err "cluster_start: a cluster is already running" || return 1
    if [ "${CLUSTER_NO_TRAP:-0}" != 1 ] && [ "$_CLUSTER_TRAP_SET" = 0 ]; then
        trap '_cluster_on_exit' EXIT
        trap 'exit 130' INT
        trap 'exit 143' TERM
        trap 'exit 129' HUP
        _CLUSTER_TRAP_SET=1
    fi
    [ -n "$CLUSTER_BINDIR" ] || cluster_install || return 1
    for ((i = 1; i <= workers; i++)); do
        _cluster_init_node "worker_$i" || return 1
        CLUSTER_NODES+=("worker_$i")
        _cluster_start_server "worker_$i" || return 1
    done
    _cluster_init_node coordinator || return 1
    CLUSTER_NODES+=(coordinator)
    _cluster_start_server coordinator || return 1
    _cluster_export_env
}

cluster_node_stop() {
    local name=$1 mode=${2:-fast} dir=${CLUSTER_DATADIR[$1]:-}
    [ -n "$dir" ] || _cluster_err "no node named $name" || return 1
    [ -f "$dir/postmaster.pid" ] || return 0
    _cluster_pg_ctl -D "$dir" -m "$mode" -w -t 60 -s stop >/dev/null 2>&1 && return 0
    _cluster_pg_ctl -D "$dir" -m immediate -w -t 60 -s stop >/dev/null 2>&1 && return 0
    # last resort: the postmaster we started (its pid is the first line of postmaster.pid)
    local pid
    pid=$(head -n 1 "$dir/postmaster.pid" 2>/dev/null)
    if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
        _cluster_log "$name: pg_ctl could not stop postmaster $pid, sending SIGKILL"
        kill -KILL "$pid"
        sleep 1
    fi
}

cluster_node_start() {
    local name=$1 dir=${CLUSTER_DATADIR[$1]:-}
    [ -n "$dir" ] || _cluster_err "no node named $name" || return 1
    _cluster_pg_ctl -D "$dir" -l "$CLUSTER_BASE/$name.log" -w -t 120 -s start >/dev/null ||
        _cluster_err "$name did not restart (log: $CLUSTER_BASE/$name.log)"
}

cluster_stop() {
    local i
    for ((i = ${#CLUSTER_NODES[@]} - 1; i >= 0; i--)); do
        cluster_node_stop "${CLUSTER_NODES[$i]}" fast
    done
    CLUSTER_NODES=()
    if [ -n "$CLUSTER_BASE" ] && [ "$_CLUSTER_BASE_OWNED" = 1 ]; then
        if [ "${KEEP:-0}" = 1 ]; then
            _cluster_log "KEEP=1: data dirs and logs kept in $CLUSTER_BASE"
            _cluster_log "  restart a node: runuser -u $CLUSTER_OS_USER -- $CLUSTER_BINDIR/pg_ctl -D $CLUSTER_BASE/coordinator -l $CLUSTER_BASE/coordinator.log start"
        else
            rm -rf "${CLUSTER_BASE:?}"
        fi
        CLUSTER_BASE=""
        _CLUSTER_BASE_OWNED=0
        CLUSTER_BINDIR=""
        CLUSTER_TREE=""
    fi
}

cluster_report_failure() {
    local n log f
    for n in "${CLUSTER_NODES[@]}"; do
        log=$CLUSTER_BASE/$n.log
        [ -s "$log" ] || continue
        echo "======== last lines of the $n server log ($log)"
        tail -n 30 "$log"
        # a crash earlier in the run would be out of the tail's reach
        if grep -qE 'PANIC:|TRAP:|terminated by signal|was terminated by exception' "$log"; then
            echo "======== crashes in the $n server log"
            grep -E -B2 -A2 'PANIC:|TRAP:|terminated by signal|was terminated by exception' "$log" | head -n 60
        fi
    done
    for f in "${CLUSTER_REPORT_FILES[@]}"; do
        [ -s "$f" ] || continue
        echo "======== $f"
        head -n 300 "$f"
        [ "$(wc -l <"$f")" -le 300 ] || echo "... (truncated: see $f)"
    done
}

_cluster_on_exit() {
    local status=$? pid
    trap - EXIT INT TERM HUP
    for pid in "${CLUSTER_CHILD_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true  # may have ended already (set -e would skip the stop)
    done
    [ "$status" != 0 ] && cluster_report_failure
    cluster_stop
    exit "$status"
}

cluster_psql() {
    local port=$1
    shift
    local psql=${CLUSTER_BINDIR:-$("$PG_CONFIG" --bindir)}/psql
    PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres PGDATABASE=${PGDATABASE:-postgres} \
        "$psql" -X -v ON_ERROR_STOP=1 "$@"
}

_cluster_main() {
    set -euo pipefail
    local cmd=${1:-help}
    shift || true
    case $cmd in
    install)
        export ROLLUP_PG_TREE=${ROLLUP_PG_TREE:-$CLUSTER_REPO/tmp_check/pgtree}
        cluster_install
        # the temp dir only held the install log
        rm -rf "${CLUSTER_BASE:?}"
        echo "$CLUSTER_BINDIR"
        ;;
    run)
        local workers=2
        if [ $# -gt 0 ] && [ "$1" != -- ]; then workers=$1; shift; fi
        [ "${1:-}" = -- ] && shift
        cluster_start "$workers"
        local n
        for n in "${CLUSTER_NODES[@]}"; do echo "$n: port ${CLUSTER_PORT[$n]}"; done
        if [ $# -eq 0 ]; then
            echo "cluster running; PGHOST/PGPORT point at the coordinator. Exit the shell to stop it."
            set -- "${SHELL:-bash}"
        fi
        set +e
        "$@"
        local status=$?
        set -e
        return $status
        ;;
    start)
        CLUSTER_NO_TRAP=1
        if ! cluster_start "${1:-2}"; then
            cluster_report_failure
            cluster_stop
            return 1
        fi
        local n
        for n in "${CLUSTER_NODES[@]}"; do echo "$n: port ${CLUSTER_PORT[$n]}"; done
        echo "environment: source $CLUSTER_BASE/env.sh"
        echo "stop with:   bash $CLUSTER_REPO/test/cluster.sh stop $CLUSTER_BASE"
        ;;
    stop)
        local dir=${1:?usage: cluster.sh stop <dir printed by start>}
        [ -f "$dir/state.sh" ] || _cluster_err "$dir/state.sh not found: not a cluster.sh directory"
        # shellcheck disable=SC1091
        source "$dir/state.sh"
        CLUSTER_BASE=$dir
        _CLUSTER_BASE_OWNED=1
        cluster_stop
        ;;
    *)
        sed -n '2,/^$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        [ "$cmd" = help ]
        ;;
    esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    _cluster_main "$@"
fi

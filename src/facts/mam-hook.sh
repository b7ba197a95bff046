#!/bin/sh
# mam's fast hook (docs/status.md, 'The fast hook'): what `mam hooks install` registers by default, as
#   /bin/sh /…/dist/cli/mam-hook.sh --agent <agent> --node /…/node [--event PermissionRequest]
# An agent runs its hooks one after another and waits for each, so this does the least it can: it writes the payload
# (stdin) into <status dir>/spool/ and exits; the resident watcher (`mam watch`) records it with the same derivation
# `mam hook` runs (src/facts/spool.ts), and is started here when none is alive. A payload is written to a dot-named temp
# file and renamed into place once whole, so a hook killed mid-write leaves nothing the watcher would read.
# Spool names sort in the order the hooks ran: <boot clock in 1/100 s>-<pid>, the pid breaking ties (a later hook
# forks later; src/facts/spool-file.ts undoes a wrap of pid_max), then `.<event>` when the install named the event:
# readers of status count a spooled PermissionRequest as needs approval before the watcher records it
# (src/facts/pending-approval.ts). Each file: a NUL-separated header (who ran the hook: the agent process,
# MAM_SESSION, MAM_REGISTRY, the tmux pane), an empty field, then the payload as it came.
# With MAM_WATCH=0 (no watcher wanted), without /proc, or when the spool cannot be written, it hands the payload to
# the Node hook instead (`mam-hook`, dist/cli/hook.cjs beside this file), which records it itself.
# POSIX sh with builtins only, but for cat and mv (and setsid when it starts the watcher): it runs on every event.
set -f
# Agents show a hook's stderr at most in their debug output; problems the watcher finds go to hook-errors.log.
exec 2>/dev/null
agent=claude
node=
event=
while [ $# -gt 0 ]; do
  case $1 in
    --agent) agent=${2-}; [ $# -ge 2 ] && shift ;;
    --node) node=${2-}; [ $# -ge 2 ] && shift ;;
    --event) event=${2-}; [ $# -ge 2 ] && shift ;;
  esac
  shift
done
here=${0%/*}
[ -x "$node" ] || node=$(command -v node) || node=node

node_hook() {
  exec "$node" "$here/hook.cjs" --agent "$agent"
}

if [ -n "${MAM_STATUS_DIR-}" ]; then
  dir=$MAM_STATUS_DIR
elif [ -n "${XDG_CACHE_HOME-}" ]; then
  dir=$XDG_CACHE_HOME/mam/status
elif [ -n "${HOME-}" ]; then
  dir=$HOME/.cache/mam/status
else
  node_hook
fi
[ "${MAM_WATCH-}" = 0 ] && node_hook
IFS=' ' read -r clock _ </proc/uptime || node_hook
spool=$dir/spool

# The agent: the first process above this hook that is not a shell (agents run hooks through `sh -c`, which may be
# gone by the time the watcher reads the payload). Its start time tells it from a later process given the same pid.
agent_pid=$PPID
agent_start=
pid=$PPID
depth=0
while [ $depth -lt 8 ] && IFS= read -r stat <"/proc/$pid/stat"; do
  comm=${stat#*\(}
  comm=${comm%\)*}
  set -- ${stat##*\) }
  case $comm in
    sh | bash | dash | zsh | fish | ksh | ash)
      if [ "$2" -gt 1 ]; then
        pid=$2
        depth=$((depth + 1))
        continue
      fi
      ;;
  esac
  agent_pid=$pid
  agent_start=${20-}
  break
done

name=${clock%.*}${clock#*.}-$$
case $event in
  '' | *[!A-Za-z]*) ;;
  *) name=$name.$event ;;
esac
temp=$spool/.$name.tmp
header() {
  printf 'mam-hook-spool 1\0agent=%s\0pid=%s\0start=%s\0ppid=%s\0' "$agent" "$agent_pid" "$agent_start" "$PPID"
  printf 'MAM_SESSION=%s\0MAM_REGISTRY=%s\0TMUX=%s\0TMUX_PANE=%s\0\0' "${MAM_SESSION-}" "${MAM_REGISTRY-}" "${TMUX-}" "${TMUX_PANE-}"
}
# The file is opened before anything is read from stdin: if that fails, the Node hook still gets the whole payload.
[ -d "$spool" ] || mkdir -p "$spool"
command exec 3>"$temp" || node_hook
header >&3 || {
  rm -f "$temp"
  exit 0
}
# stdin is read to its end: the agents close it after the payload. One that keeps it open would hold this hook until
# its own hook timeout ends it (the Node hook stops at the end of the JSON object instead; sh has no timed read). So
# the payload is read in the background and waited for, and the signal that timeout sends (SIGTERM; HUP and INT too)
# puts what was read into the spool before the hook ends: the watcher takes the first whole JSON object of it, and a
# payload cut short is logged, not recorded. `wait` returns at once on a trapped signal; a foreground `cat` would not.
exec 4<&0
cat <&4 >&3 &
reader=$!
cut=
trap 'cut=1; kill "$reader"' TERM HUP INT
wait "$reader"
read_status=$?
trap - TERM HUP INT
if [ -z "$cut" ] && [ "$read_status" -ne 0 ]; then
  rm -f "$temp"
  exit 0
fi
exec 3>&- 4<&-
mv -f "$temp" "$spool/$name" || exit 0

# The watcher, if alive, reads it within milliseconds (inotify). Looked for only after the payload is in place: a
# watcher about to exit idle gives up watch.pid first and then looks at the spool once more, so one of the two sees
# the other.
if IFS=' ' read -r wpid wstart <"$dir/watch.pid" && IFS= read -r stat <"/proc/$wpid/stat"; then
  set -- ${stat##*\) }
  [ "${20-}" = "$wstart" ] && exit 0
fi
if command -v setsid >/dev/null 2>&1; then
  setsid "$node" "$here/main.js" watch </dev/null >/dev/null &
else
  "$node" "$here/main.js" watch </dev/null >/dev/null &
fi
exit 0

#!/bin/bash
# systemctl for a chroot, where systemd is not running. What systemd would do on disk (enable,
# disable, mask, is-enabled, daemon-reload) goes to the root's real systemctl, which does it
# offline. What needs a running systemd (start, stop, restart, --now) is done here from the
# unit's own lines, plus its drop-ins: ExecStart, Environment, EnvironmentFile, User, Group,
# SupplementaryGroups, WorkingDirectory and StandardOutput/StandardError=append:. Not applied:
# sandboxing (ProtectSystem, PrivateTmp, capabilities), Restart=, timers. postgresql is started as
# its generator and postgresql@.service do it: pg_ctlcluster for each cluster.
set -euo pipefail
real=/usr/bin/systemctl
state=/run/locus-test-units
mkdir -p "$state"
say() { echo "systemctl (chroot): $*" >&2; }

unit_file() { # NAME.service -> path
  local d
  for d in /etc/systemd/system /usr/lib/systemd/system /lib/systemd/system; do
    [ -f "$d/$1" ] && { echo "$d/$1"; return; }
  done
  return 1
}
# The unit's lines for KEY, the unit first, then its drop-ins in name order.
lines() { # UNIT_FILE NAME KEY
  { cat "$1"; cat "/etc/systemd/system/$2.d/"*.conf 2>/dev/null || true; } | sed -n "s/^$3=//p"
}
running() { [ -s "$state/$1.pid" ] && kill -0 "$(cat "$state/$1.pid")" 2>/dev/null &&
  ! grep -q '^State:.*zombie' "/proc/$(cat "$state/$1.pid")/status"; }

start_simple() { # NAME
  local name=$1 file user group groups env=() dir out line
  running "$name" && return
  file=$(unit_file "$name") || { say "no unit $name"; return 1; }
  user=$(lines "$file" "$name" User | tail -n 1)
  group=$(lines "$file" "$name" Group | tail -n 1)
  env=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin LANG=C.UTF-8)
  while IFS= read -r line; do env+=("$line"); done < <(lines "$file" "$name" Environment)
  while IFS= read -r line; do
    while IFS= read -r kv; do
      case $kv in '' | '#'*) ;; *) env+=("$kv") ;; esac
    done <"${line#-}"
  done < <(lines "$file" "$name" EnvironmentFile)
  dir=$(lines "$file" "$name" WorkingDirectory | tail -n 1)
  out=$(lines "$file" "$name" StandardOutput | tail -n 1)
  read -r -a exec <<<"$(lines "$file" "$name" ExecStart | tail -n 1)"
  local run=()
  if [ -n "$user" ]; then
    groups=$(getent group "${group:-$user}" | cut -d: -f3)
    for g in $(lines "$file" "$name" SupplementaryGroups); do groups+=",$(getent group "$g" | cut -d: -f3)"; done
    env+=("HOME=$(getent passwd "$user" | cut -d: -f6)" "USER=$user" "LOGNAME=$user")
    run=(setpriv --reuid="$user" --regid="${group:-$user}" --groups="$groups")
  else
    env+=(HOME=/root USER=root LOGNAME=root)
  fi
  (
    cd "${dir:-/}"
    exec </dev/null
    case $out in append:*) exec >>"${out#append:}" 2>&1 ;; *) exec >>"$state/$name.log" 2>&1 ;; esac
    exec setsid env -i "${env[@]}" "${run[@]}" "${exec[@]}"
  ) &
  echo $! >"$state/$name.pid"
  say "started $name (pid $!): ${exec[*]}"
}

stop_simple() { # NAME
  local name=$1 pid
  running "$name" || { rm -f "$state/$name.pid"; return 0; }
  pid=$(cat "$state/$name.pid")
  kill -TERM "$pid"
  for _ in $(seq 1 300); do running "$name" || break; sleep 0.1; done
  running "$name" && { say "$name did not stop in 30 s: SIGKILL"; kill -KILL "$pid"; }
  rm -f "$state/$name.pid"
  say "stopped $name"
}

postgres() { # start|stop
  local ver cluster
  while read -r ver cluster _; do
    pg_ctlcluster --skip-systemctl-redirect "$ver" "$cluster" "$1" 2>&1 | grep -v 'already running' >&2 || true
  done < <(pg_lsclusters -h)
}

act() { # start|stop|restart UNIT
  local name=${2%.service}
  case $name in
    *.timer) say "$name: timers need a running systemd; not started" ; return ;;
    postgresql) case $1 in restart) postgres stop; postgres start ;; *) postgres "$1" ;; esac ;;
    *)
      case $1 in
        start) start_simple "$name.service" ;;
        stop) stop_simple "$name.service" ;;
        restart) stop_simple "$name.service"; start_simple "$name.service" ;;
      esac
      ;;
  esac
}

now=0 args=()
for a in "$@"; do
  case $a in --now) now=1 ;; -q | --quiet | --no-block) ;; *) args+=("$a") ;; esac
done
command=${args[0]:-} units=("${args[@]:1}")
case $command in
  start | stop | restart) for u in "${units[@]}"; do act "$command" "$u"; done ;;
  enable | disable)
    $real "$command" "${units[@]}"
    if [ $now = 1 ]; then
      for u in "${units[@]}"; do act "$([ "$command" = enable ] && echo start || echo stop)" "$u"; done
    fi
    ;;
  # Nothing to reload: the units are read afresh at every start above.
  daemon-reload) say "daemon-reload: no systemd running; units are read at each start" ;;
  is-active) for u in "${units[@]}"; do running "${u%.service}.service" || exit 3; done ;;
  *) exec $real "$@" ;;
esac

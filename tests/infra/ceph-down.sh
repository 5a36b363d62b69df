#!/bin/bash
# Stops the throwaway cluster of ceph-up.sh: SIGKILL each daemon by its pid
# file (the data is thrown away anyway; a graceful stop costs seconds), waits
# (bounded) until each is gone or a zombie, then removes DIR.
D=${1:?usage: ceph-down.sh DIR}
alive() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null) && [ -n "$st" ] && [ "${st#Z}" = "$st" ]; }
for f in "$D"/run/client.rgw.*.pid "$D"/run/osd.*.pid "$D"/run/mon.*.pid; do
  [ -f "$f" ] || continue; p=$(cat "$f"); kill -9 "$p" 2>/dev/null
  for i in $(seq 1 50); do alive "$p" || break; sleep 0.1; done
done
rm -rf "$D"

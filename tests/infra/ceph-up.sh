#!/bin/bash
# Throwaway single-node Ceph RGW for tests: 1 mon + 1 memstore OSD + radosgw
# (beast) on 127.0.0.1. No mgr, no cephx (auth none), no kernel module, no
# block device, no systemd. Adapted from the project's tested recipe
# (notes "Real backends for tests", sections 1.2/1.3).
#   Needs: apt-get install --no-install-recommends ceph-mon ceph-osd radosgw
#   Usage: D=$(mktemp -d /tmp/ceph.XXXXXX); trap 'tests/infra/ceph-down.sh "$D"' EXIT
#          tests/infra/ceph-up.sh "$D"; . "$D/env"
# Keep DIR short: the admin sockets $D/run/*.asok must fit in 107 bytes.
# Ports are picked free at run time (RGW_PORT etc. override). Writes $D/env
# with BERTH_TEST_S3_ENDPOINT/_ACCESS_KEY/_SECRET_KEY and RGW_PID_FILE.
# radosgw also serves https on RGW_TLS_PORT (CEPH_TLS=0: not at all) with a
# server certificate for IP 127.0.0.1 only (so https://localhost:PORT is a
# hostname mismatch) signed by a throwaway CA made here: $D/env then exports
# BERTH_TEST_S3_TLS_ENDPOINT and BERTH_TEST_S3_CA_FILE.
set -euo pipefail
D=${1:?usage: ceph-up.sh DIR}
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# The OSD binds 4 consecutive ports: find a free run of them.
free_range() {
  /usr/bin/python3 - <<'P'
import random, socket
for _ in range(200):
    base = random.randint(20000, 59000)
    socks = []
    try:
        for p in range(base, base + 4):
            s = socket.socket(); s.bind(("127.0.0.1", p)); socks.append(s)
        print(base); break
    except OSError:
        pass
    finally:
        for s in socks: s.close()
P
}
RGW_PORT=${RGW_PORT:-$(free_port)}
MON_PORT=${MON_PORT:-$(free_port)}
MS_PORT_MIN=${MS_PORT_MIN:-$(free_range)}
MS_PORT_MAX=${MS_PORT_MAX:-$((MS_PORT_MIN + 3))}
CEPH_TLS=${CEPH_TLS:-1}
[ "$CEPH_TLS" = 1 ] && RGW_TLS_PORT=${RGW_TLS_PORT:-$(free_port)}
OBJECTSTORE=${OBJECTSTORE:-memstore}     # memstore (RAM, fastest) or bluestore (sparse 10G file)
unset AWS_CA_BUNDLE
rm -rf "$D"; mkdir -p "$D"/{mon,osd,log,run,rgw}
FSID=$(uuidgen)
FRONTEND="beast endpoint=127.0.0.1:$RGW_PORT"
if [ "$CEPH_TLS" = 1 ]; then
  # EC P-256 keys: generated in milliseconds. Valid for two days.
  mkdir -p "$D/tls"
  ec() { openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "$@"; }
  ec -x509 -days 2 -subj "/CN=berth test CA" -keyout "$D/tls/ca.key" -out "$D/tls/ca.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  ec -subj "/CN=127.0.0.1" -keyout "$D/tls/server.key" -out "$D/tls/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > "$D/tls/server.ext"
  openssl x509 -req -days 2 -in "$D/tls/server.csr" -CA "$D/tls/ca.pem" -CAkey "$D/tls/ca.key" \
    -set_serial "0x$(openssl rand -hex 8)" -extfile "$D/tls/server.ext" -out "$D/tls/server.pem" 2>/dev/null
  FRONTEND="$FRONTEND ssl_endpoint=127.0.0.1:$RGW_TLS_PORT ssl_certificate=$D/tls/server.pem ssl_private_key=$D/tls/server.key"
fi
cat > "$D/ceph.conf" <<C
[global]
fsid = $FSID
mon host = v2:127.0.0.1:$MON_PORT
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr1 = false
ms bind ipv6 = false
ms bind port min = $MS_PORT_MIN
ms bind port max = $MS_PORT_MAX
auth cluster required = none
auth service required = none
auth client required = none
# daemons (radosgw too) default to 'secure' mon connections, which need cephx
ms mon client mode = crc
run dir = $D/run
admin socket = $D/run/\$name.asok
log file = $D/log/\$name.log
pid file = $D/run/\$name.pid
# one OSD: size-1 pools, few PGs
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
# each osdmap change waits paxos_propose_interval (1 s default); rgw makes ~20 on first start
paxos propose interval = 0.05
paxos min wait = 0.01
# don't let the mon shut itself down when the disk is nearly full
mon data avail warn = 1
mon data avail crit = 0
[mon]
mon data = $D/mon/\$cluster-\$id
[osd]
osd data = $D/osd/\$cluster-\$id
osd objectstore = $OBJECTSTORE
memstore device bytes = ${MEMSTORE_BYTES:-4294967296}
bluestore block create = true
bluestore block size = 10737418240
[client.rgw.a]
rgw frontends = $FRONTEND
rgw data = $D/rgw
C
export CEPH_CONF="$D/ceph.conf"
monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT]" "$D/monmap" >/dev/null
ceph-mon --mkfs -i a --monmap "$D/monmap"
ceph-mon -i a                                   # daemonizes; pid in $D/run/mon.a.pid
OSD_UUID=$(uuidgen)
OSD_ID=$(ceph osd new "$OSD_UUID")              # -> 0
mkdir -p "$D/osd/ceph-$OSD_ID"
ceph-osd -i "$OSD_ID" --mkfs --osd-uuid "$OSD_UUID" 2>>"$D/log/mkfs.log"
ceph-osd -i "$OSD_ID" 2>>"$D/log/osd-start.log" # daemonizes; pid in $D/run/osd.0.pid
radosgw -n client.rgw.a                         # daemonizes; pid in $D/run/client.rgw.a.pid
for i in $(seq 1 600); do                       # bounded wait, 60 s
  curl -s -o /dev/null "http://127.0.0.1:$RGW_PORT/" && break; sleep 0.1
done
curl -sf -o /dev/null "http://127.0.0.1:$RGW_PORT/" || { echo "radosgw did not come up; see $D/log" >&2; exit 1; }
if [ "$CEPH_TLS" = 1 ]; then
  curl -sf -o /dev/null --cacert "$D/tls/ca.pem" "https://127.0.0.1:$RGW_TLS_PORT/" ||
    { echo "radosgw does not answer https on $RGW_TLS_PORT; see $D/log" >&2; exit 1; }
fi
KEY=${S3_ACCESS_KEY:-ciaccesskey}
SECRET=${S3_SECRET_KEY:-cisecretkey}
radosgw-admin user create --uid=ci --display-name=ci --access-key="$KEY" --secret-key="$SECRET" >/dev/null
cat > "$D/env" <<E
export BERTH_TEST_S3_ENDPOINT=http://127.0.0.1:$RGW_PORT
export BERTH_TEST_S3_ACCESS_KEY=$KEY
export BERTH_TEST_S3_SECRET_KEY=$SECRET
export BERTH_TEST_S3_REGION=us-east-1
export BERTH_TEST_CEPH_DIR=$D
E
if [ "$CEPH_TLS" = 1 ]; then
  cat >> "$D/env" <<E
export BERTH_TEST_S3_TLS_ENDPOINT=https://127.0.0.1:$RGW_TLS_PORT
export BERTH_TEST_S3_CA_FILE=$D/tls/ca.pem
E
fi
echo "ceph-up: radosgw on http://127.0.0.1:$RGW_PORT${RGW_TLS_PORT:+ and https://127.0.0.1:$RGW_TLS_PORT} (dir $D)"

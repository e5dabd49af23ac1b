#!/usr/bin/env bash
# End-to-end test of the ansible backend (`qlab run --inventory`), on this
# machine: four network-namespace "hosts" on a bridge (198.19.61.0/24, in
# the 198.18.0.0/15 benchmarking range), each with its own sshd (throwaway
# keys) and its own qlab root folder: three replica hosts, one of which
# also drives load, and one driver host. It installs openssh-server (apt) and
# ansible-core + ansible-lint (PyPI, into a venv) if they are missing, then:
#
#   1. runs a two-point experiment with a leader crash through the ansible
#      backend (deploy playbook, agents, faults over the agent channel,
#      load from two `qlab drive` processes on two hosts, merged),
#   2. runs the same experiment on the local backend and checks that every
#      CSV has the same columns, and the ansible run's content,
#   3. runs the deploy playbook again and checks it changes nothing,
#   4. runs ansible-lint on ansible/, and the stop playbook.
#
# Everything it creates (namespaces, bridge, processes in the namespaces,
# the scratch folder) is removed on exit, failed or not. It talks only to
# the namespaces' addresses and loopback. Needs root.
#
# Environment: QLAB_TESTBED_TMP (scratch parent, default /tmp),
# QLAB_TESTBED_VENV (an existing venv with ansible-core and ansible-lint),
# QLAB_TESTBED_KEEP=1 (keep the scratch folder), CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

if [ "$(id -u)" != 0 ]; then
  echo "testbed: needs root (network namespaces, sshd)" >&2
  exit 1
fi

PREFIX=qlabtb
NET=198.19.61
HOSTS=(h1 h2 h3 d1)
TMP=$(mktemp -d "${QLAB_TESTBED_TMP:-/tmp}/${PREFIX}.XXXXXX")
VENV=${QLAB_TESTBED_VENV:-$TMP/venv}
TARGET=${CARGO_TARGET_DIR:-$REPO/target}

cleanup() {
  local rc=$?
  set +e
  for h in "${HOSTS[@]}"; do
    local ns=$PREFIX-$h
    if ip netns list | grep -qw "$ns"; then
      # Every process we started in the namespace: sshd, agents, nodes.
      local pids
      pids=$(ip netns pids "$ns")
      [ -n "$pids" ] && kill -TERM $pids 2>/dev/null
      for _ in $(seq 1 30); do
        [ -z "$(ip netns pids "$ns")" ] && break
        sleep 0.1
      done
      pids=$(ip netns pids "$ns")
      [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
      ip netns del "$ns"
    fi
    ip link del "$PREFIX-$h" 2>/dev/null
  done
  ip link del "$PREFIX-br" 2>/dev/null
  if [ "${QLAB_TESTBED_KEEP:-0}" = 1 ]; then
    echo "testbed: kept $TMP"
  else
    rm -rf "$TMP"
  fi
  if [ $rc = 0 ]; then echo "testbed: OK"; else echo "testbed: FAILED ($rc)"; fi
  exit $rc
}
trap cleanup EXIT INT TERM

step() { echo "== testbed: $*"; }

step "tools"
if [ ! -x /usr/sbin/sshd ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q openssh-server >"$TMP/apt.log" 2>&1 \
    || { apt-get update -q >>"$TMP/apt.log" 2>&1 \
         && DEBIAN_FRONTEND=noninteractive apt-get install -y -q openssh-server >>"$TMP/apt.log" 2>&1; } \
    || { tail -n 20 "$TMP/apt.log"; exit 1; }
fi
if [ ! -x "$VENV/bin/ansible-playbook" ] || [ ! -x "$VENV/bin/ansible-lint" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q ansible-core ansible-lint
fi
export PATH="$VENV/bin:$PATH"
# Not piped into head: ansible dies of a broken pipe when head exits first.
ansible-playbook --version >"$TMP/ansible-version.txt"
head -n 1 "$TMP/ansible-version.txt"
cargo build --bin qlab
QLAB=$TARGET/debug/qlab

step "network namespaces and sshd"
ip link add "$PREFIX-br" type bridge
ip addr add "$NET.1/24" dev "$PREFIX-br"
ip link set "$PREFIX-br" up
mkdir -p "$TMP/ssh" /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$TMP/ssh/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$TMP/ssh/client_key"
cp "$TMP/ssh/client_key.pub" "$TMP/ssh/authorized_keys"
cat >"$TMP/ssh/sshd_config" <<EOF
HostKey $TMP/ssh/host_key
AuthorizedKeysFile $TMP/ssh/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
LogLevel ERROR
EOF
i=10
for h in "${HOSTS[@]}"; do
  i=$((i + 1))
  ns=$PREFIX-$h
  ip netns add "$ns"
  ip link add "$PREFIX-$h" type veth peer name eth0 netns "$ns"
  ip link set "$PREFIX-$h" master "$PREFIX-br" up
  ip -n "$ns" addr add "$NET.$i/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
  mkdir -p "$TMP/hosts/$h"
  ip netns exec "$ns" /usr/sbin/sshd -f "$TMP/ssh/sshd_config" \
    -o "ListenAddress=$NET.$i" -o "PidFile=$TMP/ssh/sshd-$h.pid" -E "$TMP/ssh/sshd-$h.log"
done

step "inventory and experiment"
cat >"$TMP/inventory.yml" <<EOF
all:
  vars:
    ansible_user: root
    ansible_ssh_private_key_file: $TMP/ssh/client_key
    ansible_ssh_common_args: -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o IdentitiesOnly=yes -o ConnectTimeout=10
    ansible_python_interpreter: /usr/bin/python3
    # The namespaces share this machine's filesystem and kernel settings:
    # nothing system-wide is changed; each host has its own root folder.
    qlab_install_packages: false
    qlab_tune_sysctl: false
    qlab_limits_file: "{{ qlab_root }}/limits.conf"
    qlab_controller_bind: $NET.1
  children:
    nodes:
      hosts:
        h1:
          ansible_host: $NET.11
          qlab_listen: $NET.11
          qlab_root: $TMP/hosts/h1
          qlab_bandwidth_mbit: 1000
          qlab_latency: {h2: {delay_ms: 1}, h3: {delay_ms: 2, jitter_ms: 1}}
        h2:
          ansible_host: $NET.12
          qlab_listen: $NET.12
          qlab_root: $TMP/hosts/h2
          qlab_latency: {h1: {delay_ms: 1}}
        h3:
          ansible_host: $NET.13
          qlab_listen: $NET.13
          qlab_root: $TMP/hosts/h3
    drivers:
      hosts:
        d1:
          ansible_host: $NET.14
          qlab_listen: $NET.14
          qlab_root: $TMP/hosts/d1
        h3:
EOF
cat >"$TMP/experiment.yaml" <<EOF
name: testbed
protocol: raft
nodes: 3
durability: nosync
history: true
ready_timeout: 20s
workload:
  keys: 30
  arrival: {kind: open, rate: 200}
  clients: 16
  duration: 7s
  warmup: 1s
  cooldown: 500ms
faults:
  - {kind: crash, at: 2500ms, node: leader, for: 1500ms}
sweep:
  protocol: [raft, multipaxos]
EOF

step "run through the ansible backend"
"$QLAB" run "$TMP/experiment.yaml" --inventory "$TMP/inventory.yml" \
  --ansible-dir "$REPO/ansible" --out "$TMP/ansible-run"

step "the same experiment on the local backend"
"$QLAB" run "$TMP/experiment.yaml" --out "$TMP/local-run"

step "check the results"
"$VENV/bin/python" "$REPO/.ci/testbed_check.py" "$TMP/ansible-run" "$TMP/local-run"
grep -qx inprocess "$TMP/hosts/h1/shaping"
grep -qx none "$TMP/hosts/h3/shaping"
ip netns exec "$PREFIX-h1" tc qdisc show dev eth0 root | grep -q tbf
for h in "${HOSTS[@]}"; do
  test -s "$TMP/ansible-run/hosts/$h/agent.log"
done

step "deploy again: nothing may change"
ANSIBLE_CONFIG="$REPO/ansible/ansible.cfg" ansible-playbook -i "$TMP/inventory.yml" \
  "$REPO/ansible/deploy.yml" -e "@$TMP/ansible-run/ansible/vars.yml" | tee "$TMP/redeploy.log"
recap=$(sed -n '/^PLAY RECAP/,$p' "$TMP/redeploy.log" | grep -E 'ok=')
echo "$recap" | grep -q . || { echo "no PLAY RECAP"; exit 1; }
if echo "$recap" | grep -Ev 'changed=0 .*failed=0' | grep -q .; then
  echo "the second deployment changed something or failed:"
  echo "$recap"
  exit 1
fi
[ "$(echo "$recap" | wc -l)" = "${#HOSTS[@]}" ] || { echo "$recap"; exit 1; }

step "ansible-lint"
(cd "$REPO" && ansible-lint --offline ansible/)

step "stop the agents"
ANSIBLE_CONFIG="$REPO/ansible/ansible.cfg" ansible-playbook -i "$TMP/inventory.yml" \
  "$REPO/ansible/stop.yml" -e "@$TMP/ansible-run/ansible/vars.yml" >"$TMP/stop.log"
for h in "${HOSTS[@]}"; do
  test ! -e "$TMP/hosts/$h/agent.pid" || { echo "$h: agent still running"; exit 1; }
done

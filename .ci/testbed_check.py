"""Checks the results of .ci/testbed.sh: the ansible backend's CSVs have
the local backend's columns, and hold a real run with a leader crash.

usage: testbed_check.py ANSIBLE_RESULTS LOCAL_RESULTS
"""

import csv
import sys
from pathlib import Path

import yaml  # ships with ansible-core


def table(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        sys.exit(f"{path} is empty")
    return rows[0], [dict(zip(rows[0], r)) for r in rows[1:]]


def main():
    remote, local = Path(sys.argv[1]), Path(sys.argv[2])
    names = sorted(p.name for p in local.glob("*.csv"))
    for want in ["summary.csv", "timeseries.csv", "events.csv", "recovery.csv", "history.csv"]:
        if want not in names:
            sys.exit(f"the local run has no {want}")
    for name in names:
        lh, _ = table(local / name)
        rh, _ = table(remote / name)
        if lh != rh:
            sys.exit(f"{name}: columns differ\n  local:   {lh}\n  ansible: {rh}")
        print(f"{name}: same {len(lh)} columns")

    _, summary = table(remote / "summary.csv")
    if len(summary) != 2:
        sys.exit(f"summary.csv has {len(summary)} rows, expected 2")
    for r in summary:
        if r["backend"] != "ansible":
            sys.exit(f"backend is {r['backend']!r}")
        if float(r["achieved_ops_per_s"]) < 100:
            sys.exit(f"{r['point']}: only {r['achieved_ops_per_s']} ops/s")
        print(f"{r['point']}: {float(r['achieved_ops_per_s']):.0f} ops/s, p99 {r['p99_us']} us")

    _, events = table(remote / "events.csv")
    for point in ["protocol=raft", "protocol=multipaxos"]:
        kinds = [e["kind"] for e in events if e["point"] == point]
        for k in ["fault_crash", "fault_restart", "leader_elected"]:
            if k not in kinds:
                sys.exit(f"{point}: no {k} in events.csv")
        started = {e["node"] for e in events if e["point"] == point and e["kind"] == "node_started"}
        if len(started) != 3:
            sys.exit(f"{point}: node_started from {sorted(started)}, expected 3 nodes")
        crash = next(e for e in events if e["point"] == point and e["kind"] == "fault_crash")
        after = [
            e for e in events
            if e["point"] == point and e["kind"] == "leader_elected"
            and float(e["time_ms"]) > float(crash["time_ms"]) and e["node"] != crash["node"]
        ]
        if not after:
            sys.exit(f"{point}: no other replica was elected after the crash of {crash['node']}")
        print(f"{point}: node {crash['node']} crashed at {float(crash['time_ms']):.0f} ms, "
              f"node {after[0]['node']} elected at {float(after[0]['time_ms']):.0f} ms")

    _, recovery = table(remote / "recovery.csv")
    if len(recovery) != 2 or any(r["fault"] != "crash" for r in recovery):
        sys.exit(f"recovery.csv: {recovery}")
    _, history = table(remote / "history.csv")
    if len(history) < 1000:
        sys.exit(f"history.csv has only {len(history)} operations")
    # Client ids are driver * 10^7 + n: both remote drivers (1 and 2) must
    # have driven, and in about equal shares.
    per_driver = {}
    for op in history:
        d = int(op["client"]) // 10_000_000
        per_driver[d] = per_driver.get(d, 0) + 1
    if sorted(per_driver) != [1, 2]:
        sys.exit(f"history.csv: operations by driver {per_driver}, expected drivers 1 and 2")
    lo, hi = min(per_driver.values()), max(per_driver.values())
    if lo < 0.35 * (lo + hi):
        sys.exit(f"history.csv: unequal driver shares {per_driver}")
    print(f"history.csv: operations per driver {per_driver}")
    for point in ["protocol=raft", "protocol=multipaxos"]:
        logs = sorted(p.name for p in remote.glob(f"work/{point}*/driver-*.log"))
        if logs != ["driver-1.log", "driver-2.log"]:
            sys.exit(f"{point}: driver logs {logs}")

    prov = yaml.safe_load((remote / "provenance.yaml").read_text())
    roles = {h.get("inventory_name"): h["role"] for h in prov["hosts"] if h.get("inventory_name")}
    want = {"h1": "node", "h2": "node", "h3": "node+driver", "d1": "driver"}
    if roles != want:
        sys.exit(f"provenance.yaml host roles {roles}, expected {want}")
    nodes = [h for h in prov["hosts"] if h.get("inventory_name")]
    for h in nodes:
        for k in ["inventory_name", "address", "clock_offset_ms", "shaping", "kernel", "cpus"]:
            if h.get(k) is None:
                sys.exit(f"provenance.yaml: host {h} has no {k}")
    print("provenance.yaml: " + ", ".join(
        f"{h['inventory_name']} ({h['address']}, {h['shaping']}, clock {h['clock_offset_ms']:+.3f} ms)"
        for h in nodes))


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# The simulated variant of bft-scalability.yaml: PBFT against chained
# HotStuff from n = 4 to n = 100, which no single machine hosts as real
# processes. Every replica is modelled as one core (qlab sim's CPU model:
# a cost per input handled, per message sent and per KiB sent), so
# simulated throughput saturates where the busiest replica does, and the
# O(n^2) against O(n) message counts show up as throughput and latency,
# not only as counts. The costs are a model, not a measurement: read the
# ratios between protocols at each n and the trend with n.
#
#   experiments/bft-scalability-sim.sh [OUT.csv] [QLAB]   (about 10 minutes)
#
# Writes one row per (protocol, n) to OUT.csv (default
# results/bft-scalability-sim.csv): simulated ops/s, p50 and p99 latency,
# replica messages and bytes per operation. Runs are deterministic (one
# seed each, calm network, 64 closed-loop clients without think time).
# Signature verification time is not modelled (only the bytes signatures
# add), so `auth` is left at none here; the real runs measure its cost.
set -euo pipefail
out=${1:-results/bft-scalability-sim.csv}
qlab=${2:-qlab}
mkdir -p "$(dirname "$out")"
rm -f "$out"
cpu=(--cpu-per-input-us 10 --cpu-per-message-us 5 --cpu-per-kib-us 5)
for n in 4 7 10 13 25 49 100; do
  for p in pbft hotstuff; do
    # PBFT's all-to-all phases make every simulated second of n = 100 cost
    # millions of events: one simulated second there, two below.
    secs=2
    if [ "$n" -ge 49 ]; then secs=1; fi
    "$qlab" sim -p "$p" -n "$n" --calm --seeds 1 --fault-seconds "$secs" \
      --max-events 200000000 \
      --clients 64 --keys 1000 --think-ms 0 "${cpu[@]}" --summary-csv "$out" |
      grep -E 'ops/s|failed' || true
  done
done
column -s, -t "$out" 2>/dev/null || cat "$out"

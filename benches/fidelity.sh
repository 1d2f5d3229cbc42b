#!/usr/bin/env bash
# benches/fidelity.sh — `replay fidelity` over 8 seeds on synthetic bursty
# browser recordings, synthetic API mixes (benches/fidelity/synth_har.py)
# and the browser captures of /work/shared/corpus that hold 20 requests or
# more, and fixtures/browser/chromium-browse.pcap (Chromium, recorded by
# its make script). Prints per capture: requests, count ratio (min..max
# over seeds), gap KS (median, min..max) beside the split-half KS, mix TV
# beside its split-half, 1 s rate error (median) beside its split-half.
#   env: REPLAY [target/release/replay], SEEDS [8], CORPUS [/work/shared/corpus]
set -euo pipefail
cd "$(dirname "$0")/.."
REPLAY=${REPLAY:-target/release/replay}
SEEDS=${SEEDS:-8}
CORPUS=${CORPUS:-/work/shared/corpus}
[ -x "$REPLAY" ] || cargo build --release --locked
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
files=()
for k in browser api; do
  for s in 1 2 3; do
    python3 benches/fidelity/synth_har.py "$k" "$s" > "$work/synth-$k$s.har"
    files+=("$work/synth-$k$s.har")
  done
done
python3 benches/fidelity/synth_har.py browser 4 1 > "$work/synth-browser-1user.har"
python3 benches/fidelity/synth_har.py browser 5 4 > "$work/synth-browser-4users.har"
files+=("$work/synth-browser-1user.har" "$work/synth-browser-4users.har")
for f in "$CORPUS"/har/pagexray__304.har "$CORPUS"/har/pagexray__www.nytimes.com.har \
         "$CORPUS"/har/haralyzer__cnn.har "$CORPUS"/har/harviewer__noPages.har \
         "$CORPUS"/har/harviewer__softwareishard.com.har "$CORPUS"/pcap/chrissanders__http_espn.pcapng \
         "$CORPUS"/pcap/zeek__bro.org.pcap "$CORPUS"/pcap/suricata-verify__tls-subjectaltname.pcap; do
  [ -f "$f" ] && files+=("$f")
done
files+=(fixtures/browser/chromium-browse.pcap)
printf '%-34s %6s %13s %20s %9s %12s %9s %10s %9s\n' capture reqs count_ratio "gap_ks med (min..max)" split_ks "mix_tv med" split_tv "rate_1s med" split_1s
for f in "${files[@]}"; do
  for s in $(seq "$SEEDS"); do
    "$REPLAY" fidelity "$f" --json --seed "$s" || true
  done | jq -s -r '
    def med: sort | .[length/2|floor];
    [ .[0].recorded_requests,
      ([.[].count_ratio] | min), ([.[].count_ratio] | max),
      ([.[].gap_ks] | med), ([.[].gap_ks] | min), ([.[].gap_ks] | max),
      .[0].split_half.gap_ks, ([.[].mix_tv] | med), .[0].split_half.mix_tv,
      ([.[].rate_error."1s"] | med), .[0].split_half.rate_error."1s" ]
    | "\(.[0]) \(.[1]*1000|round/1000)..\(.[2]*1000|round/1000) \(.[3]*1000|round/1000) (\(.[4]*1000|round/1000)..\(.[5]*1000|round/1000)) \(.[6]*1000|round/1000) \(.[7]*1000|round/1000) \(.[8]*1000|round/1000) \(.[9]*1000|round/1000) \(.[10]*1000|round/1000)"' \
    | awk -v n="$(basename "$f")" '{printf "%-34s %6s %13s %8s %11s %9s %12s %9s %10s %9s\n", substr(n,1,34), $1, $2, $3, $4, $5, $6, $7, $8, $9}'
done

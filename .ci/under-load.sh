#!/usr/bin/env bash
# The CI run on a busy machine: two CPU-bound processes compete with `CI=true bash .ci/run` (or
# with the command given as arguments), and are killed by their PIDs however the run ends.
set -uo pipefail
cd "$(dirname "$0")/.."

burners=()
stop_burners() {
  for pid in "${burners[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${burners[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_burners EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for _ in 1 2; do
  node -e 'for (;;) {}' &
  burners+=("$!")
done
echo "under load: CPU burners running as PIDs ${burners[*]}" >&2

if [ "$#" -gt 0 ]; then
  CI=true "$@"
else
  CI=true bash .ci/run
fi
code=$?
echo "under load: the run exited with $code" >&2
exit "$code"

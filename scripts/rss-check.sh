#!/usr/bin/env bash
# Peak RSS of `tern run` on each bench shape against the model file size plus its KV
# cache (f32 keys and values for every executed layer at -c 2048): the memory figure of
# the energy/bench issue. Writes the random shape models to a temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for shape in mobilellm-125m mobilellm-350m bitnet-700m; do
  ./build/tern bench --shape "$shape" -p 0 -n 0 -t 1 --save "$dir/$shape.gguf" >/dev/null 2>&1
  /usr/bin/python3 - "$dir/$shape.gguf" "$shape" <<'PY'
import os, resource, subprocess, sys
path, shape = sys.argv[1], sys.argv[2]
subprocess.run(["./build/tern", "run", "-m", path, "-p", "hello", "-n", "16", "-c", "2048", "-t", "2"],
               check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
layers, kv_dim = {"mobilellm-125m": (30, 192), "mobilellm-350m": (32, 320), "bitnet-700m": (24, 1536)}[shape]
kv = layers * 2048 * kv_dim * 2 * 4
size = os.path.getsize(path)
print(f"{shape}: peak RSS {peak / 2**20:.1f} MiB, file {size / 2**20:.1f} MiB + KV {kv / 2**20:.1f} MiB"
      f" -> ratio {peak / (size + kv):.3f}")
PY
done

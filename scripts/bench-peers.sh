#!/usr/bin/env bash
# tern against its peers (llama.cpp, bitnet.cpp) on this machine, interleaved: for each
# round, each shape, every engine in turn, with the same test (128-token prompt, 128
# generated tokens, 1 and 2 threads, 3 repetitions, f16 KV cache). Prints the median
# over the rounds per cell and tern's ratio to the best peer (docs/PERFORMANCE.md).
#
#   flock -x /work/bench.lock scripts/bench-peers.sh [--rounds 2] [--out DIR]
#       [--shapes mobilellm-125m,mobilellm-350m,bitnet-700m] [--tern NAME=BINARY ...]
#
# --tern (repeatable) times several tern builds or settings in the same interleaved run
# (e.g. --tern base=/tmp/tern-base --tern new=./build/tern --tern 'q4=./build/tern
# --embd-type q4_0': words after the binary are added to its `tern bench` options);
# default: tern=./build/tern.
#
# The peers live outside the repository, under $PEERS (default /work/peers):
#   # sources, at the commits of the comparison (issue 20)
#   git clone https://github.com/ggerganov/llama.cpp $PEERS/llama.cpp
#   git -C $PEERS/llama.cpp checkout c392e5094deaf2d1a7c18683214f007fad3fe42b
#   git clone https://github.com/microsoft/BitNet $PEERS/BitNet
#   git -C $PEERS/BitNet checkout c82b5e667482d19bac0ba3817661ff8b30317fec
#   git -C $PEERS/BitNet submodule update --init 3rdparty/llama.cpp   # Eddie-Wang1120/llama.cpp 406a5036f9a8aaee9ec5e96e652f61691340fe95
#   # llama.cpp: GCC, native flags (AVX2 here), only the two tools
#   cmake -S $PEERS/llama.cpp -B $PEERS/llama.cpp/build -DCMAKE_BUILD_TYPE=Release \
#       -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DBUILD_SHARED_LIBS=OFF
#   cmake --build $PEERS/llama.cpp/build -j2 --target llama-bench llama-quantize
#   # bitnet.cpp: TL2 kernels generated for the bitnet_b1_58-large shapes (= bitnet-700m),
#   # as its setup_env.py does, then clang (it refuses GCC)
#   (cd $PEERS/BitNet && python3 utils/codegen_tl2.py --model bitnet_b1_58-large \
#       --BM 256,128,256 --BK 96,192,96 --bm 32,32,32)
#   cmake -S $PEERS/BitNet -B $PEERS/BitNet/build -DBITNET_X86_TL2=ON -DCMAKE_BUILD_TYPE=Release \
#       -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DBUILD_SHARED_LIBS=OFF
#   cmake --build $PEERS/BitNet/build -j2 --target llama-bench llama-quantize
#   # models: F16 GGUFs of the shapes (random ternary weights; llama.cpp's gguf-py), then
#   # each peer's ternary types; bitnet.cpp's TL2 through its own weight transform
#   for s in mobilellm-125m mobilellm-350m bitnet-700m; do
#     GGUF_PY=$PEERS/llama.cpp/gguf-py python3 tools/peers/make_shape_gguf.py --shape $s --out $PEERS/models/$s-f16.gguf
#     for t in TQ2_0 TQ1_0; do
#       $PEERS/llama.cpp/build/bin/llama-quantize --token-embedding-type q8_0 \
#           $PEERS/models/$s-f16.gguf $PEERS/models/$s-${t,,}.gguf $t
#     done
#     $PEERS/BitNet/build/bin/llama-quantize --token-embedding-type q8_0 \
#         $PEERS/models/$s-f16.gguf $PEERS/models/$s-i2_s.gguf I2_S
#   done
#   # the same with a Q4_0 tied head (tern's default head where rows allow), so that the
#   # peers can be compared at tern's head type as well as at the issue's Q8_0
#   for s in mobilellm-125m mobilellm-350m bitnet-700m; do
#     $PEERS/llama.cpp/build/bin/llama-quantize --token-embedding-type q4_0 \
#         $PEERS/models/$s-f16.gguf $PEERS/models/$s-tq2_0-q4head.gguf TQ2_0
#     $PEERS/BitNet/build/bin/llama-quantize --token-embedding-type q4_0 \
#         $PEERS/models/$s-f16.gguf $PEERS/models/$s-i2_s-q4head.gguf I2_S
#   done
#   GGUF_PY=$PEERS/BitNet/3rdparty/llama.cpp/gguf-py python3 tools/peers/make_shape_gguf.py \
#       --shape bitnet-700m --tl2 $PEERS/BitNet --out $PEERS/models/bitnet-700m-tl2.gguf
#   # the peers' own weights for tern too, where llama.cpp's file is all TQ2_0 (700m)
#   ./build/tern convert $PEERS/models/bitnet-700m-tq2_0.gguf -o $PEERS/models/bitnet-700m-tern.gguf --embd-type q8_0
# A model file that is missing is skipped (its engine gets no cell).
#
# The machine is shared: as root the script runs in its own session, whose autogroup
# (the unit the scheduler shares CPU time between; plain nice only orders processes
# within one) it sets to nice -20; the background fuzzers (processes named fuzz_*) are
# stopped for the duration and continued on exit. The load average is logged before
# every engine's run (DIR/load.log).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $EUID == 0 && -z ${TERN_BENCH_OWN_SESSION:-} ]]; then
  TERN_BENCH_OWN_SESSION=1 exec setsid --wait "$0" "$@"
fi

PEERS=${PEERS:-/work/peers}
rounds=2
out=bench-results/peers
shapes=mobilellm-125m,mobilellm-350m,bitnet-700m
terns=()
while (($#)); do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --shapes) shapes=$2; shift 2 ;;
    --tern) terns+=("$2"); shift 2 ;;
    *) echo "bench-peers: unknown option $1" >&2; exit 2 ;;
  esac
done
((${#terns[@]})) || terns=(tern=./build/tern)
mkdir -p "$out"
rm -f "$out"/*.json "$out/load.log"

if [[ $EUID == 0 ]]; then
  echo -20 >/proc/self/autogroup 2>/dev/null || echo "bench-peers: cannot set the autogroup's nice value" >&2
  renice -n -20 -p $$ >/dev/null
fi
stopped=()
for pid in $(pgrep '^fuzz_' || true); do
  kill -STOP "$pid" 2>/dev/null && stopped+=("$pid")
done
resume() { for pid in "${stopped[@]}"; do kill -CONT "$pid" 2>/dev/null || true; done; }
trap resume EXIT
echo "bench-peers: stopped ${#stopped[@]} fuzz_* processes; autogroup: $(cat /proc/self/autogroup)" >&2

test_args=(-p 128 -n 128 -t 1,2 -r 3)
llama=$PEERS/llama.cpp/build/bin/llama-bench
bitnet=$PEERS/BitNet/build/bin/llama-bench

# run ROUND SHAPE ENGINE COMMAND...: one engine's tests, its JSON kept as DIR/ROUND.SHAPE.ENGINE.json
run() {
  local round=$1 shape=$2 engine=$3
  shift 3
  echo "$(date -u +%H:%M:%S) round $round $shape $engine load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/load.log" >&2
  "$@" >"$out/$round.$shape.$engine.json" 2>"$out/$round.$shape.$engine.err" ||
    { echo "bench-peers: $engine on $shape failed, see $out/$round.$shape.$engine.err" >&2; rm -f "$out/$round.$shape.$engine.json"; }
}

for ((round = 1; round <= rounds; ++round)); do
  for shape in ${shapes//,/ }; do
    for t in "${terns[@]}"; do
      read -r -a command <<<"${t#*=}"
      run "$round" "$shape" "${t%%=*}" "${command[0]}" bench --shape "$shape" "${test_args[@]}" --kv-type f16 \
        --output json "${command[@]:1}"
    done
    # The first tern build on the peers' weights (converted from llama.cpp's file), as a check.
    model=$PEERS/models/$shape-tern.gguf
    first=${terns[0]}
    read -r -a command <<<"${first#*=}"
    [[ -f $model ]] && run "$round" "$shape" "${first%%=*}-gguf" "${command[0]}" bench -m "$model" "${test_args[@]}" --kv-type f16 --output json
    for type in tq2_0 tq1_0 tq2_0-q4head; do
      model=$PEERS/models/$shape-$type.gguf
      [[ -f $model && -x $llama ]] && run "$round" "$shape" "llama.cpp-$type" "$llama" -m "$model" "${test_args[@]}" -ctk f16 -ctv f16 -o json
    done
    for type in i2_s tl2 i2_s-q4head; do
      model=$PEERS/models/$shape-$type.gguf
      [[ -f $model && -x $bitnet ]] && run "$round" "$shape" "bitnet.cpp-$type" "$bitnet" -m "$model" "${test_args[@]}" -ctk f16 -ctv f16 -o json
    done
  done
done
echo "$(date -u +%H:%M:%S) end load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/load.log" >&2

{
  echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') (family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | tr -d ' ') model $(grep -m1 '^model\s' /proc/cpuinfo | cut -d: -f2 | tr -d ' ')), $(nproc) CPUs"
  echo "tern $(git rev-parse --short HEAD), $(date -u +%Y-%m-%dT%H:%MZ), $rounds rounds, ${test_args[*]}, f16 KV cache"
  python3 tools/peers/peer_table.py "$out" "${terns[@]%%=*}" "${terns[0]%%=*}-gguf"
} | tee "$out/table.md"

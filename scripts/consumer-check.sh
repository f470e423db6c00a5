#!/usr/bin/env bash
# The consumer check: what a user of the published package gets. It packs this checkout, installs the tarball into a
# fresh app (the addon builds there, offline, with npm's nodedir unset, as on a clean machine), type-checks the
# consumer apps test/consumer/app.cts (CommonJS) and app.mts (ES module) with `tsc --noEmit --strict` under
# TypeScript 6 and 7 (no @types/node, no `types` setting), compiles them and runs them with node (each builds the
# chapter's LeNet, prints the shape table and trains an epoch on synthetic data), checks that the installed
# package folder is under 5 MB, and runs two ranks of an all_reduce through the installed `npx lenet-torch-run`. Prints a timed line per stage; exits non-zero on any failure.
#
# Needs: this checkout's node_modules (npm pack runs `prepare`, i.e. tsc), the quick start's apt packages, and the
# npm registry (the package's dependencies, typescript 6 and 7).
# Usage: scripts/consumer-check.sh [WORKDIR]    (default: a new folder under $TMPDIR, removed when the check passes)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -gt 0 ]; then work=$(mkdir -p "$1" && cd "$1" && pwd); keep=1; else work=$(mktemp -d "${TMPDIR:-/tmp}/lenet-consumer.XXXXXX"); keep=0; fi
app="$work/app"
max_kb=5120

start=$(date +%s)
stage_start=$start
stage() { # stage NAME: prints the time since the start and the last stage
  local now; now=$(date +%s)
  printf '[consumer-check %4ss] %s\n' "$((now - start))" "$*"
  stage_start=$now
}
took() { echo "$(( $(date +%s) - stage_start )) s"; }
fail() { printf '[consumer-check] FAILED: %s\n' "$*" >&2; echo "[consumer-check] files kept in $work" >&2; exit 1; }
trap 'rc=$?; [ $rc -ne 0 ] && echo "[consumer-check] FAILED (exit $rc) in the stage above; files kept in $work" >&2' EXIT

# A clean machine has no nodedir in its npm config (this one's ~/.npmrc may set nodedir=/usr, which would hide a
# build that needs Node's own headers): use the user's npm config without it, and a HOME of our own, so that a
# header download by cmake-js (into ~/.cmake-js) would show.
mkdir -p "$work/home" "$app"
grep -v '^[[:space:]]*nodedir[[:space:]]*=' "${NPM_CONFIG_USERCONFIG:-$HOME/.npmrc}" > "$work/npmrc" 2>/dev/null || true
npm_cache=$(npm config get cache)
export NPM_CONFIG_USERCONFIG="$work/npmrc" npm_config_cache="$npm_cache" HOME="$work/home"
unset npm_config_nodedir NPM_CONFIG_NODEDIR
nodedir=$(npm config get nodedir)
[ "$nodedir" = undefined ] || [ -z "$nodedir" ] || fail "npm's nodedir is still set ($nodedir)"
stage "node $(node --version), npm $(npm --version), nodedir unset; work folder $work"

# 1. Pack this checkout (prepare compiles the TypeScript into dist/).
stage "npm pack"
tarball=$(cd "$repo" && npm pack --silent --pack-destination "$work" | tail -n 1)
tarball="$work/$tarball"
[ -f "$tarball" ] || fail "npm pack did not write a tarball"
stage "packed $(basename "$tarball") ($(du -k "$tarball" | cut -f1) KB) in $(took)"

# 2. A fresh app installs it: npm runs lenet-torch's install script, which builds the addon with cmake-js.
# --foreground-scripts shows the build's progress here; a plain `npm install` hides a dependency's script output
# (the build then writes its progress to the terminal, when there is one).
cat > "$app/package.json" <<'EOF'
{ "name": "lenet-consumer", "version": "1.0.0", "private": true }
EOF
stage "npm install $(basename "$tarball") (builds the native addon)"
time_cmd=()
[ -x /usr/bin/time ] && time_cmd=(/usr/bin/time -f 'largest process peak RSS %M KB' -o "$work/install.time")
(cd "$app" && "${time_cmd[@]}" npm install --foreground-scripts --no-audit --no-fund "$tarball") 2>&1 | tee "$work/install.log"
pkg="$app/node_modules/lenet-torch"
addon="$pkg/build/Release/lenet_torch.node"
[ -f "$addon" ] || fail "npm did not run lenet-torch's install script: $addon is missing (see $work/install.log)"
stage "installed in $(took)$( [ -f "$work/install.time" ] && echo "; $(cat "$work/install.time")" )"
[ ! -e "$HOME/.cmake-js" ] || fail "cmake-js downloaded Node headers into $HOME/.cmake-js: the build is not offline"
if grep -q 'install-scripts' "$work/install.log"; then
  stage "npm $(npm --version) listed lenet-torch's install script as not yet reviewed and ran it (the build above)"
fi

# npm 11 lists unreviewed install scripts and will block them in a later release; the README's answer is
# `npm install-scripts approve lenet-torch`. Check that it covers everything (strict mode fails on any unreviewed
# script, lenet-torch's dependencies included) and rebuilds nothing. npm 9 and 10 have no such gate.
if (cd "$app" && npm install-scripts ls >/dev/null 2>&1); then
  before=$(stat -c %Y "$addon")
  (cd "$app" && npm install-scripts approve lenet-torch && npm install --strict-allow-scripts --no-audit --no-fund) \
    > "$work/approve.log" 2>&1 || { cat "$work/approve.log"; fail "npm install-scripts approve lenet-torch did not satisfy --strict-allow-scripts"; }
  [ "$(stat -c %Y "$addon")" = "$before" ] || fail "approving the install script rebuilt the addon"
  stage "npm install-scripts approve lenet-torch: $(cd "$app" && node -p 'JSON.stringify(require("./package.json").allowScripts)'); npm install --strict-allow-scripts passes"
else
  stage "npm $(npm --version) has no install-script approvals (npm 11 adds them): nothing to approve"
fi

# 3. The installed package is lean: its own folder (not its dependencies) under 5 MB, the addon and no build leftovers.
size_kb=$(du -sk --exclude=node_modules "$pkg" | cut -f1)
leftovers=$(cd "$pkg" && find build -mindepth 1 ! -path build/Release ! -path build/Release/lenet_torch.node | head -5)
stage "installed size of node_modules/lenet-torch: ${size_kb} KB ($(du -k "$addon" | cut -f1) KB of it the addon)"
[ -z "$leftovers" ] || fail "build leftovers in the installed package: $leftovers"
[ "$size_kb" -lt "$max_kb" ] || fail "node_modules/lenet-torch is ${size_kb} KB, not under $max_kb KB"
[ ! -e "$app/node_modules/@types/node" ] || fail "@types/node is in the app (a dependency pulled it in), so the type-check below would prove less"

# 4. Type-check the consumer apps with TypeScript 6 and 7, each installed in a folder of its own so that the app
# holds only what `npm install lenet-torch` put there. TypeScript 7 is the native (Go) compiler; its CLI is tsc too.
cp "$repo/test/consumer/app.cts" "$repo/test/consumer/app.mts" "$app/"
for ts in 6:~6.0.0 7:7; do
  dir="$work/typescript-${ts%%:*}" spec="typescript@${ts#*:}"
  mkdir -p "$dir"
  echo '{ "name": "ts", "private": true }' > "$dir/package.json"
  (cd "$dir" && npm install --no-audit --no-fund --silent "$spec") || fail "could not install $spec"
  tsc="$dir/node_modules/.bin/tsc"
  version=$("$tsc" --version)
  stage "$version: installed in $(took)"
  for run in 'app.cts --module commonjs' 'app.cts --module nodenext' 'app.mts --module nodenext'; do
    set -- $run
    (cd "$app" && "$tsc" --noEmit --strict --skipLibCheck false "$2" "$3" "$1") || fail "$version: tsc --noEmit --strict $2 $3 $1 failed"
    stage "$version: tsc --noEmit --strict $2 $3 $1: no errors ($(took))"
  done
done

# 5. Run them: compiled by TypeScript 6 to app.cjs (require) and app.mjs (import { torch, nn, d2l } from 'lenet-torch').
(cd "$app" && "$work/typescript-6/node_modules/.bin/tsc" --strict --module nodenext --target es2022 app.cts app.mts) ||
  fail "compiling the consumer apps failed"
grep -q "require(\"lenet-torch\")" "$app/app.cjs" || fail "app.cjs does not require lenet-torch"
grep -q "^import { torch, nn, d2l } from 'lenet-torch';" "$app/app.mjs" || fail "app.mjs does not import lenet-torch"
for js in app.cjs app.mjs; do
  stage "node $js"
  (cd "$app" && node "$js") 2>&1 | tee "$work/$js.log"
  grep -q '^consumer check (.*): OK' "$work/$js.log" || fail "node $js did not finish its checks"
  stage "node $js passed in $(took)"
done

# 6. The launcher, as an app runs it: `npx lenet-torch-run` starts two ranks that all-reduce a one (Gloo on 127.0.0.1).
cat > "$app/distributed.cjs" <<'JS'
const { torch } = require('lenet-torch');
(async () => {
  const dist = torch.distributed;
  await dist.init_process_group('gloo', { timeout: 60 });
  const t = torch.ones(1);
  await dist.all_reduce(t);
  console.log(`rank ${dist.get_rank()} of ${dist.get_world_size()}: ${t.item()}`);
  dist.destroy_process_group();
})();
JS
port=$(node -e "const s = require('node:net').createServer().listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); })")
stage "npx lenet-torch-run --nproc_per_node 2 distributed.cjs"
(cd "$app" && npx --no-install lenet-torch-run --nproc_per_node 2 --master_port "$port" distributed.cjs) > "$work/distributed.log" 2>&1 ||
  { cat "$work/distributed.log"; fail "npx lenet-torch-run failed"; }
[ "$(grep -c '^rank [01] of 2: 2$' "$work/distributed.log")" = 2 ] || { cat "$work/distributed.log"; fail "the two ranks did not both sum to 2"; }
stage "npx lenet-torch-run: both ranks summed to 2 ($(took))"

stage "PASSED: installed size ${size_kb} KB; TypeScript 6 and 7 strict without @types/node; CommonJS and ES module runs; the launcher"
trap - EXIT
if [ "$keep" = 0 ]; then rm -rf "$work"; fi

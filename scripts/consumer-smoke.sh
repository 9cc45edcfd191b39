#!/usr/bin/env bash
# The consumer smoke test (run by .ci/run, not by npm test): convbench packed and installed into
# fresh projects as a user would, then used from there. Each step asserts its outcome.
#   1. `npm install <tarball>` with no flags succeeds (onnxruntime-node, an optional dependency,
#      may fail its CUDA download and be left out: convbench then reports ort absent).
#   2. In a project installed with ONNXRUNTIME_NODE_INSTALL=skip (README "Use it in your project"):
#      (a) npx convbench run --impl ./maxpool.mjs (and ./kernel.ts) --no-bench on the bundled cases,
#      (b) node importing convbench from a plain .mjs (runConformance, with ONNX Runtime),
#      (c) tsc --noEmit of a .ts kernel under strict + exactOptionalPropertyTypes + noUncheckedIndexedAccess,
#      (d) the consumer's vitest running describeConformance: a correct kernel passes, a wrong one fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
say() { echo "consumer smoke: $*"; }
fail() { echo "consumer smoke: FAILED: $*" >&2; exit 1; }
quiet=(--no-audit --no-fund --loglevel=error)

cd "$root"
tarball="$work/$(npm pack --silent --pack-destination "$work" | tail -n 1)"
say "packed $(basename "$tarball") ($(du -k "$tarball" | cut -f1) KiB)"
contents=$(tar tzf "$tarball")
stray=$(grep -E '(\.ts|\.map|\.tsbuildinfo)$|/fixtures/|\.test\.|^package/dist/cases/|^package/reports/' <<<"$contents" | grep -v '\.d\.ts$' || true)
[ -z "$stray" ] || fail "the tarball ships what it should not: $(head -n 3 <<<"$stray" | tr '\n' ' ')"
for want in package/dist/harness/cli.js package/dist/harness/index.d.ts package/dist/harness/vitest.js package/schema/report.schema.json \
  package/cases/case.schema.json package/adapters/python/convbench_host.py package/README.md \
  package/dist/implementations/fast/asm/gemm.wasm; do
  grep -qx "$want" <<<"$contents" || fail "the tarball lacks $want"
done

say "1. npm install of the tarball, no flags"
mkdir "$work/plain" && cd "$work/plain" && npm init -y >/dev/null
npm install "${quiet[@]}" "$tarball" || fail "npm install <tarball> with no flags"
out=$(npx convbench run --impl "$root/scripts/consumer/maxpool.mjs" --case 'maxpool index breakers' --no-bench 2>&1) || fail "convbench run after a plain install: $out"
grep -Eq 'oracles: reference64.*ort|absent: ort: .*ONNXRUNTIME_NODE_INSTALL=skip' <<<"$out" || fail "ort neither ran nor was reported absent with the fix: $out"
say "   ok ($(grep -Eo 'absent: ort|ort \([0-9]+ thread' <<<"$out" | head -n 1))"
# npm init's package is CommonJS: a .ts kernel there is a CommonJS module to tsx.
cp "$root/scripts/consumer/kernel.ts" .
out=$(npx convbench run --impl ./kernel.ts --op avgpool2d --no-bench --oracle none 2>&1) || fail "a .ts kernel in a CommonJS project: $out"
say "   ok: a .ts kernel in a CommonJS project"

say "2. a project installed with ONNXRUNTIME_NODE_INSTALL=skip"
mkdir "$work/app" && cd "$work/app" && npm init -y >/dev/null && npm pkg set type=module
cp "$root"/scripts/consumer/* .
ONNXRUNTIME_NODE_INSTALL=skip npm install "${quiet[@]}" "$tarball" vitest@4.1 typescript@7.0.2 @types/node@20 || fail "npm install in the app project"
[ "$(npx convbench --version)" = "convbench $(node -p "require('$root/package.json').version")" ] || fail "convbench --version"

say "   (a) npx convbench run --impl ./maxpool.mjs --no-bench (bundled cases)"
out=$(npx convbench run --impl ./maxpool.mjs --no-bench 2>&1) || fail "convbench run --impl ./maxpool.mjs: $out"
grep -q 'oracles: reference64.*ort' <<<"$out" || fail "ONNX Runtime did not load in the app project: $out"
grep -Eq '[1-9][0-9]* passed, 0 failed, 0 errored' <<<"$out" || fail "maxpool.mjs did not pass: $(tail -n 5 <<<"$out")"
out=$(npx convbench run --impl ./kernel.ts --op avgpool2d --no-bench --oracle none 2>&1) || fail "convbench run --impl ./kernel.ts: $out"
grep -Eq '[1-9][0-9]* passed, 0 failed, 0 errored' <<<"$out" || fail "kernel.ts did not pass: $(tail -n 5 <<<"$out")"

say "   (b) node use.mjs (import from 'convbench')"
node use.mjs || fail "importing convbench from a plain .mjs"

say "   (c) tsc --noEmit, strict + exactOptionalPropertyTypes + noUncheckedIndexedAccess, no skipLibCheck"
npx tsc --noEmit -p tsconfig.json || fail "the consumer's strict tsc"

say "   (d) the consumer's vitest: describeConformance"
NO_COLOR=1 npx vitest run right.test.mjs >right.log 2>&1 || fail "describeConformance on a correct kernel: $(tail -n 20 right.log)"
grep -Eq 'Tests +[1-9][0-9]* passed' right.log || fail "no passing conformance test: $(tail -n 5 right.log)"
if NO_COLOR=1 npx vitest run wrong.test.mjs >wrong.log 2>&1; then fail "describeConformance passed a wrong kernel"; fi
grep -q 'dx(n, c, y, x) = ' wrong.log || fail "the failure message does not name the element: $(tail -n 20 wrong.log)"
say "ok"

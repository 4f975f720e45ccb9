#!/bin/sh
# Builds the example into a component: ./build.sh [output.wasm]  (default: python-collector.wasm here).
# Needs componentize-py 0.25: `pip install componentize-py==0.25.1`.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-"$here/python-collector.wasm"}
componentize-py --wit-path "$here/../../wit" --world collector componentize app --python-path "$here" --output "$out"

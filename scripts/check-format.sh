#!/bin/bash
# Reports the C++ files under src/ and tests/ that .clang-format would change,
# with the number of lines each, and fails when there is any. `make format`
# applies the formatting. Not yet part of scripts/test.sh.
#
#   scripts/check-format.sh            every file
#   scripts/check-format.sh FILE...    these files
set -euo pipefail
cd "$(dirname "$0")/.."
CLANG_FORMAT=${CLANG_FORMAT:-clang-format-14}
command -v "$CLANG_FORMAT" >/dev/null || { echo "check-format: $CLANG_FORMAT is not installed" >&2; exit 2; }

if [ "$#" -gt 0 ]; then
  files=("$@")
else
  mapfile -t files < <(git ls-files --cached --others --exclude-standard -- 'src/*.cc' 'src/*.h' 'tests/*.cc' 'tests/*.h')
fi

changed_files=0
changed_lines=0
for f in "${files[@]}"; do
  [ -f "$f" ] || continue
  n=$("$CLANG_FORMAT" --style=file "$f" | diff "$f" - | grep -c '^<' || true)
  if [ "$n" -gt 0 ]; then
    echo "$f: $n lines"
    changed_files=$((changed_files + 1))
    changed_lines=$((changed_lines + n))
  fi
done
echo "check-format: $changed_files of ${#files[@]} files would change ($changed_lines lines)"
[ "$changed_files" -eq 0 ]

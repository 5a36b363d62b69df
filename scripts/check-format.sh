#!/bin/bash
# Reports the C++ files under src/ and tests/ that .clang-format would change,
# with the number of lines each, and fails when there is any. `make format`
# applies the formatting. scripts/test.sh runs it first, after check-layers.sh.
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

# The common case, a clean tree, in one clang-format process (one per file costs about a
# minute of CPU on the whole tree); only when it finds something, the per-file report below.
if "$CLANG_FORMAT" --style=file --dry-run -Werror "${files[@]}" >/dev/null 2>&1; then
  echo "check-format: 0 of ${#files[@]} files would change (0 lines)"
  exit 0
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

#!/bin/bash
# Checks that every file under src/ includes headers only from the layers its
# own layer may use (README.md, "Layout"). Fails, naming each offending
# include, when a file reaches into a layer the table below does not allow,
# or when src/ has a folder the table does not know.
#
#   scripts/check-layers.sh        run from anywhere in the checkout
set -euo pipefail
cd "$(dirname "$0")/.."

# layer -> the layers its files may include (besides its own). Derived from
# the includes of the tree, and matching the libraries' link lists in
# CMakeLists.txt: a layer links only what it may include.
declare -A ALLOWED=(
  [core]=""
  [log]=""
  [auth]="core"
  [meta]="core scan"
  [blob]="core"
  [registry]="core log meta blob scan"
  [identity]="core log auth meta"
  [jobs]="core log"
  [metrics]=""
  [scan]="core"
  [server]="core log auth"
  [oci]="core log auth identity registry server"
  [ecr]="core log auth identity registry server"
  [iam]="core log auth identity server"
  [app]="core log auth meta blob registry identity jobs server oci ecr iam metrics scan"
)

# Known violations, each a "file layer" pair, accepted until the code that
# causes it is gone. Do not add to this list: remove entries as they are fixed.
EXCEPTIONS=(
)

is_exception() {
  local pair="$1 $2" e
  for e in "${EXCEPTIONS[@]}"; do [ "$e" = "$pair" ] && return 0; done
  return 1
}

status=0
declare -A USED_EXCEPTION=()
for dir in src/*/; do
  layer=$(basename "$dir")
  if [ -z "${ALLOWED[$layer]+set}" ]; then
    echo "check-layers: src/$layer/ is not in the layer table of $0" >&2
    status=1
    continue
  fi
  while IFS= read -r file; do
    # Only quoted includes of the form "layer/...": system and library
    # headers are the link lists' business.
    while IFS= read -r dep; do
      [ -z "$dep" ] || [ "$dep" = "$layer" ] && continue
      [ -z "${ALLOWED[$dep]+set}" ] && continue  # not one of ours (e.g. a test helper)
      case " ${ALLOWED[$layer]} " in *" $dep "*) continue ;; esac
      if is_exception "$file" "$dep"; then
        USED_EXCEPTION["$file $dep"]=1
        continue
      fi
      line=$(grep -n "^[[:space:]]*#[[:space:]]*include[[:space:]]*\"$dep/" "$file" | head -n1 | cut -d: -f1)
      echo "check-layers: $file:$line: $layer/ must not include $dep/ (allowed: ${ALLOWED[$layer]:-nothing of ours})" >&2
      status=1
    done < <(sed -n 's|^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([a-z_]*\)/.*|\1|p' "$file" | sort -u)
  done < <(find "$dir" -type f \( -name '*.h' -o -name '*.cc' \) | sort)
done

for e in "${EXCEPTIONS[@]}"; do
  if [ -z "${USED_EXCEPTION[$e]+set}" ]; then
    echo "check-layers: note: the exception '$e' no longer occurs; remove it from $0"
  fi
done
if [ "$status" -eq 0 ]; then
  echo "check-layers: ok (${#EXCEPTIONS[@]} known exceptions)"
fi
exit "$status"

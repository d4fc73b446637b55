#!/usr/bin/env bash
# The C sources follow .clang-format (the formatter decides, not reviewers):
# every tracked .c and .h file must come out of clang-format unchanged.
# To fix: git ls-files '*.c' '*.h' | xargs clang-format -i
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "format_test: clang-format is not installed"; exit 1; }
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  files=$(git ls-files '*.c' '*.h')
else
  files=$(find . -path ./build\* -prune -o \( -name '*.c' -o -name '*.h' \) -print)
fi
bad=0
for f in $files; do
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "not formatted: $f"
    bad=$((bad + 1))
  fi
done
[ "$bad" -eq 0 ] || { echo "format_test: $bad file(s) differ from clang-format's output"; exit 1; }
echo "format_test: $(echo "$files" | wc -w) files formatted"

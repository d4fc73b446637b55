#!/usr/bin/env bash
# The project's documentation stands on its own: every document that the
# README, docs/, the public headers, the sources and the tests name (a *.md
# file) is in the tree, every "<doc>.md section <n>" it cites has a heading
# "## <n>." there, and nothing points into the shared directory beside the
# project's checkout (documents users do not have).
# usage: docs_test.sh SOURCE_DIR
set -u
src="$1"
cd "$src" || exit 1
fails=0
outside="..""/shared"
files="$(git ls-files 2>/dev/null || find . -type f -not -path './.git/*' -not -path './build*')"
files="$(grep -E '\.(md|h|c|sh|py|java|txt|cmake|in)$' <<<"$files" | grep -v '^tests/corpus/' | grep -v '^\./build')"
# only the files that mention a document or the shared directory
for f in $(grep -lE "\.md|$outside" $files 2>/dev/null); do
  # names of documents, and "<doc>.md section <n>" citations
  while IFS= read -r ref; do
    [ -n "$ref" ] || continue
    doc="${ref%% *}"
    case "$doc" in http*|*://*) continue ;; esac
    path=""
    for cand in "${doc#/}" "$(dirname "$f")/$doc"; do
      [ -f "$cand" ] && { path="$cand"; break; }
    done
    if [ -z "$path" ]; then
      echo "FAIL: $f names $doc, which is not in the tree"; fails=$((fails + 1)); continue
    fi
    if [ "$ref" != "$doc" ]; then
      for n in $(grep -oE '[0-9]+' <<<"${ref#* }"); do
        grep -qE "^## $n\. " "$path" || { echo "FAIL: $f cites $doc section $n, which has no heading '## $n.'"; fails=$((fails + 1)); }
      done
    fi
  done < <(grep -oE '[A-Za-z0-9_./-]*[A-Za-z0-9_-]\.md( sections? [0-9]+(-[0-9]+)?)?' "$f" | sed -E 's/ sections? / /')
  if grep -qF "$outside" "$f"; then
    echo "FAIL: $f points outside the project ($outside)"; fails=$((fails + 1))
  fi
done
echo "$fails failed"
[ $fails -eq 0 ]

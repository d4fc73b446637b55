#!/usr/bin/env bash
# The project's documentation stands on its own: every document that the
# README, docs/, the public headers, the sources and the tests name (a *.md
# file) is in the tree, every "<doc>.md section <n>" it cites has a heading
# "## <n>." there, nothing points into the shared directory beside the
# project's checkout (documents users do not have), and every Markdown link of
# the README and docs/ (the guide) resolves to a file, and to a heading.
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
# Markdown links in the README and docs/ (the guide): every relative link
# names a file of the tree, and a "#fragment" into a Markdown file names one
# of its headings (GitHub's anchors: lower case, punctuation dropped, spaces
# as hyphens)
links="$(python3 - "$src" <<'PY'
import os, re, sys
root = sys.argv[1]
def slugs(path):
    out = set()
    inside = False
    for line in open(path, encoding="utf-8"):
        if line.startswith("```"):
            inside = not inside
        m = None if inside else re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            t = re.sub(r"[`*_]", "", m.group(1)).strip().lower()
            out.add(re.sub(r"\s", "-", re.sub(r"[^\w\- ]", "", t)))
    return out
pages = ["README.md"] + sorted(os.path.join(d, f) for d, _, fs in os.walk(os.path.join(root, "docs"))
                             for f in fs if f.endswith(".md"))
n = bad = 0
for page in pages:
    path = os.path.join(root, page)
    if not os.path.isfile(path):
        continue
    rel = os.path.relpath(path, root)
    text = re.sub(r"```.*?```", "", open(path, encoding="utf-8").read(), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        n += 1
        file, _, frag = target.partition("#")
        dest = os.path.normpath(os.path.join(os.path.dirname(path), file)) if file else path
        if not os.path.exists(dest):
            print(f"FAIL: {rel} links to {target}, which is not in the tree"); bad += 1
        elif frag and dest.endswith(".md") and frag not in slugs(dest):
            print(f"FAIL: {rel} links to {target}: no such heading"); bad += 1
print(f"links: {n} checked, {bad} broken")
sys.exit(1 if bad else 0)
PY
)" || fails=$((fails + 1))
echo "$links"

echo "$fails failed"
[ $fails -eq 0 ]

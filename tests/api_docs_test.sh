#!/usr/bin/env bash
# The API reference: Doxygen builds it from the public headers (docs/Doxyfile)
# with no warning at all - every public function, type, macro and struct
# field is documented, every parameter and return value of every function
# too, and no doc comment names a parameter that does not exist.
# usage: api_docs_test.sh SOURCE_DIR
set -u
src="$1"
command -v doxygen >/dev/null || { echo "doxygen is not installed (Debian: doxygen)"; exit 77; }
out="$(mktemp -d /tmp/mailchan-apidocs.XXXXXX)"
trap 'rm -rf "$out"' EXIT
cd "$src" || exit 1
{ cat docs/Doxyfile; echo "OUTPUT_DIRECTORY = $out"; echo "WARN_LOGFILE = $out/warnings.log"; } | doxygen - >"$out/doxygen.log" 2>&1
rc=$?
[ $rc -eq 0 ] || { echo "FAIL: doxygen exited $rc"; cat "$out/doxygen.log"; exit 1; }
[ -f "$out/html/index.html" ] || { echo "FAIL: no html/index.html"; exit 1; }
# every header has its page (a header without @file documents nothing in it)
for h in include/mailchan.h include/mailchan/*.h; do
  b="$(basename "$h" .h)"
  ls "$out"/html/"${b}"_8h.html >/dev/null 2>&1 || { echo "FAIL: no page for $h (its first comment must say @file)"; exit 1; }
done
n="$(grep -c . "$out/warnings.log")"
if [ "$n" -ne 0 ]; then
  sed "s|$src/||" "$out/warnings.log"
  echo "FAIL: $n doxygen warning lines"
  exit 1
fi
echo "api docs: no warnings"

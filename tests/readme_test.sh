#!/usr/bin/env bash
# Every ```c block of README.md is a complete program. Each is compiled
# against the built library (warnings are errors; extra compiler flags, e.g.
# the sanitizers, follow the compiler) and run with a fresh directory, the
# root of a Maildir store, as its argument; it must exit 0.
# usage: readme_test.sh README INCLUDE_DIR LIBMAILCHAN_SO CC [CFLAGS...]
set -u
readme="$1" include="$2" lib="$3" cc="$4"
shift 4
flags=()
for f in "$@"; do [ -n "$f" ] && flags+=("$f"); done
work="$(mktemp -d /tmp/mailchan-readme.XXXXXX)"
trap 'rm -rf "$work"' EXIT
awk -v dir="$work" '
  /^```c[ \t]*$/ { n++; file = sprintf("%s/example%d.c", dir, n); inside = 1; next }
  inside && /^```/ { inside = 0; close(file); next }
  inside { print > file }' "$readme"
examples=("$work"/example*.c)
[ -e "${examples[0]}" ] || { echo "FAIL: no c block in $readme"; exit 1; }
libdir="$(dirname "$lib")"
fails=0
for src in "${examples[@]}"; do
  name="$(basename "$src" .c)"
  if ! "$cc" -std=c11 -Wall -Wextra -Werror -pedantic "${flags[@]}" -I"$include" "$src" -o "$work/$name" \
      "$lib" -Wl,-rpath,"$libdir" -pthread; then
    echo "FAIL: $name (the ${name#example}. c block of the README) does not compile"
    fails=$((fails + 1))
    continue
  fi
  mkdir "$work/$name.store"
  if "$work/$name" "$work/$name.store"; then
    echo "ok: $name"
  else
    echo "FAIL: $name (the ${name#example}. c block of the README) exited $?"
    fails=$((fails + 1))
  fi
done
echo "${#examples[@]} examples, $fails failed"
[ $fails -eq 0 ]

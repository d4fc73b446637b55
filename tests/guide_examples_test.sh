#!/usr/bin/env bash
# Every ```c block of the guide (docs/guide/*.md) is a complete program
# (snippets are in plain ``` blocks): each is compiled against the public
# headers with warnings as errors. One whose opening comment has a "run:"
# line is also linked with the built library and run with a fresh directory,
# the root of a Maildir store, as its argument; it must exit 0. (The others
# need a mail server or a second process.)
# usage: guide_examples_test.sh GUIDE_DIR INCLUDE_DIR LIBMAILCHAN_SO CC [CFLAGS...]
set -u
guide="$1" include="$2" lib="$3" cc="$4"
shift 4
flags=()
for f in "$@"; do [ -n "$f" ] && flags+=("$f"); done
work="$(mktemp -d /tmp/mailchan-guide.XXXXXX)"
trap 'rm -rf "$work"' EXIT
libdir="$(dirname "$lib")"
fails=0 n=0 ran=0
for page in "$guide"/*.md; do
  base="$(basename "$page" .md)"
  awk -v dir="$work" -v base="$base" '
    /^```c[ \t]*$/ { k++; file = sprintf("%s/%s-%d.c", dir, base, k); inside = 1; next }
    inside && /^```/ { inside = 0; close(file); next }
    inside { print > file }' "$page"
done
for src in "$work"/*.c; do
  [ -e "$src" ] || break
  n=$((n + 1))
  name="$(basename "$src" .c)"
  what="the ${name##*-}. c block of ${name%-*}.md"
  if ! grep -q 'main(' "$src"; then
    echo "FAIL: $what is not a complete program (put snippets in a plain \`\`\` block)"
    fails=$((fails + 1)); continue
  fi
  if ! "$cc" -std=c11 -Wall -Wextra -Werror -pedantic "${flags[@]}" -I"$include" -c "$src" -o "$work/$name.o"; then
    echo "FAIL: $what does not compile"; fails=$((fails + 1)); continue
  fi
  if head -5 "$src" | grep -q 'run:'; then
    ran=$((ran + 1))
    if ! "$cc" "${flags[@]}" "$work/$name.o" -o "$work/$name" "$lib" -Wl,-rpath,"$libdir" -pthread; then
      echo "FAIL: $what does not link"; fails=$((fails + 1)); continue
    fi
    mkdir "$work/$name.store"
    if ! "$work/$name" "$work/$name.store" >"$work/$name.out"; then
      echo "FAIL: $what exited $?"; fails=$((fails + 1)); continue
    fi
    echo "ok: $what (ran: $(head -1 "$work/$name.out"))"
  else
    echo "ok: $what (compiled)"
  fi
done
[ $n -gt 0 ] || { echo "FAIL: no c block in $guide"; exit 1; }
echo "$n examples ($ran run), $fails failed"
[ $fails -eq 0 ]

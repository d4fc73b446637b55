#!/usr/bin/env bash
# The manual page docs/mailchan.1: groff renders it without a warning, man
# renders it, and it cannot go stale - every option, command and exit status
# that "mailchan --help" lists appears in it.
# usage: man_test.sh MAILCHAN_CLI MAN_PAGE
set -u
cli="$1" page="$2"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
command -v groff >/dev/null || { echo "groff is not installed (Debian: groff-base)"; exit 77; }

# groff's own check: all warnings on, nothing may be printed
warnings="$(groff -man -Tutf8 -ww -z "$page" 2>&1)" || fail "groff exited $?"
[ -z "$warnings" ] || fail "groff warns: $warnings"
if command -v man >/dev/null; then
  text="$(MANWIDTH=80 man --warnings=w -l "$page" 2>/tmp/mailchan-man-test.$$ | col -b)"
  [ -s /tmp/mailchan-man-test.$$ ] && fail "man warns: $(cat /tmp/mailchan-man-test.$$)"
  rm -f /tmp/mailchan-man-test.$$
else
  text="$(groff -man -Tutf8 "$page" 2>/dev/null | col -b)"
fi
grep -q '^NAME' <<<"$text" && grep -q '^EXIT STATUS' <<<"$text" && grep -q '^ENVIRONMENT' <<<"$text" ||
  fail "the rendered page lacks NAME, EXIT STATUS or ENVIRONMENT"

help="$("$cli" --help)" || fail "mailchan --help exited $?"
# roff writes a hyphen as \-: look for each option as written in the source
roff() { sed 's/-/\\-/g' <<<"$1"; }
n=0
for opt in $(grep -oE '(^|[ [|,])--?[A-Za-z][A-Za-z-]*' <<<"$help" | grep -oE -- '--?[A-Za-z][A-Za-z-]*' | sort -u); do
  n=$((n + 1))
  grep -qF -- "$(roff "$opt")" "$page" || fail "$opt (in --help) is not in the manual page"
done
[ $n -ge 30 ] || fail "found only $n options in --help: the pattern no longer matches it"
# the commands and the queue commands
for cmd in send receive serve queue list dead retry purge flush; do
  grep -qE "^ +(mailchan )?(queue )?$cmd\b" <<<"$help" || continue
  grep -qE "^(queue )?$cmd\b|^ +mailchan $cmd|^ +queue $cmd" <<<"$text" ||
    fail "the command $cmd (in --help) is not described in the manual page"
done
# every exit status --help lists
for code in $(grep -oE '^  [0-9]+  ' <<<"$help"); do
  sed -n '/^\.SH EXIT STATUS/,/^\.SH /p' "$page" | grep -qx "\.B $code" ||
    fail "exit status $code (in --help) is not in EXIT STATUS"
done
# the environment variables the CLI reads
for var in $(grep -oE '\$MAILCHAN_[A-Z_]+' <<<"$help" | tr -d '$' | sort -u); do
  sed -n '/^\.SH ENVIRONMENT/,/^\.SH /p' "$page" | grep -q "$var" || fail "$var is not in ENVIRONMENT"
done
echo "$n options checked, $fails failed"
[ $fails -eq 0 ]

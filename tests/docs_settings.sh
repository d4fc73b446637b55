#!/usr/bin/env bash
# The guide's settings tables are the library's own settings table: in every
# docs/guide/*.md, the lines between "<!-- settings KIND|common ELEMENT -->"
# and "<!-- end settings -->" must be what docs_settings_table prints for
# them (every setting, its default and its help, from binding/options.c).
# With --write, the tables are rewritten in place (after a setting changed).
# usage: docs_settings.sh DOCS_SETTINGS_TABLE SOURCE_DIR [--write]
set -u
gen="$1" src="$2" write="${3:-}"
fails=0 blocks=0
for page in "$src"/docs/guide/*.md; do
  out="$(mktemp)"
  inside=0
  while IFS= read -r line || [ -n "$line" ]; do
    if [ $inside -eq 0 ]; then
      printf '%s\n' "$line" >>"$out"
      if [[ "$line" =~ ^\<\!--\ settings\ ([a-z]+)\ ([a-z]+)\ --\>$ ]]; then
        inside=1 blocks=$((blocks + 1))
        want="$("$gen" "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}")" || { echo "FAIL: $page: $line"; fails=$((fails + 1)); }
        printf '%s\n' "$want" >>"$out"
        have=""
      fi
    elif [ "$line" = "<!-- end settings -->" ]; then
      inside=0
      printf '%s\n' "$line" >>"$out"
      if [ "$write" != "--write" ] && [ "$have" != "$want"$'\n' ] && [ "$have" != "$want" ]; then
        echo "FAIL: $(basename "$page"): the table after '$marker' differs from the settings table"
        diff <(printf '%s' "$have") <(printf '%s\n' "$want") | head -20
        fails=$((fails + 1))
      fi
    else
      have+="$line"$'\n'
    fi
    [ $inside -eq 1 ] && [[ "$line" == "<!-- settings "* ]] && marker="$line"
  done <"$page"
  [ $inside -eq 0 ] || { echo "FAIL: $page: a settings block without its end"; fails=$((fails + 1)); }
  if [ "$write" = "--write" ]; then cat "$out" >"$page"; fi
  rm -f "$out"
done
[ $blocks -gt 0 ] || { echo "FAIL: no settings block in docs/guide"; fails=$((fails + 1)); }
if [ "$write" = "--write" ]; then echo "rewrote $blocks tables"; exit 0; fi
echo "$blocks tables, $fails failed"
[ $fails -eq 0 ]

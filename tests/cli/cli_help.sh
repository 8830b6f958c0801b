#!/usr/bin/env bash
# Every command and subcommand of the kinema CLI answers --help: exit status 0 and a usage text,
# without doing any work. Every command `kinema --help` lists must be in COMMANDS.
#   tests/cli/cli_help.sh path/to/kinema
set -uo pipefail
KINEMA=$1
COMMANDS="generate
extend
loop
join
edit
character
world
world render
world expand
world caption
world dataset
world selftest
world vocab
eval
verify
detect
sign
text
train
train dit
train vae
train text
scorecard
model
model pack
model check
model cast
model text-use
check-prompt
serve
keys
convert
vae
vae recon
vae stats
vae widen
vae inflate
vae keyframe"
fail=0
while read -r cmd; do
  # shellcheck disable=SC2086
  out=$("$KINEMA" $cmd --help 2>&1)
  rc=$?
  if [ $rc -ne 0 ] || ! grep -qi "usage" <<<"$out"; then
    echo "kinema $cmd --help: exit $rc, output: ${out:0:200}" >&2
    fail=1
  fi
done <<<"$COMMANDS"
for c in $("$KINEMA" --help | awk '/^commands:/{on=1; next} on && /^  [a-z]/{print $1}'); do
  case "$c" in info|version) continue ;; esac
  grep -qx "$c" <<<"$COMMANDS" || { echo "kinema $c is not checked by $0" >&2; fail=1; }
done
exit $fail

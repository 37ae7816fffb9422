# shellcheck shell=bash
# Shared by the deploy scripts (sourced, not run): every AWS or Docker call goes through
# `run` (printed always, made only without --dry-run) or `query` (a call whose answer the
# script needs; in a dry run it is printed and a placeholder answer is returned).
# The sourcing script sets DRY_RUN=0|1.

run() {
  printf '+ %s\n' "$*"
  if [ "$DRY_RUN" = 0 ]; then "$@"; fi
}

query() {
  local placeholder=$1; shift
  if [ "$DRY_RUN" = 1 ]; then
    printf '+ %s\n' "$*" >&2
    echo "$placeholder"
  else
    "$@"
  fi
}

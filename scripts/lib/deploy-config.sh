# shellcheck shell=bash
# Shared by the deploy scripts (sourced, not run): the one source of truth for where a deploy
# goes. The stack name and region come from samconfig.toml's profile (--config-env, default
# "default"): [<env>.deploy.parameters], else [<env>.global.parameters]. AWS_REGION is then set
# to that region for every AWS call, so an exported AWS_REGION cannot send the image to one
# region and the stack update to another. The account is the one the credentials belong to.
# The sourcing script sets ROOT, CONFIG_ENV and DRY_RUN and has sourced dry-run.sh.

# samconfig_value COMMAND KEY: the profile's value, or nothing.
samconfig_value() {
  python3 - "$ROOT/samconfig.toml" "$CONFIG_ENV" "$1" "$2" <<'PY'
import sys, tomllib
path, env, command, key = sys.argv[1:]
with open(path, "rb") as fh:
    section = tomllib.load(fh).get(env, {})
for scope in (command, "global"):
    value = section.get(scope, {}).get("parameters", {}).get(key)
    if value is not None:
        print(value)
        break
PY
}

# require HINT ITEM...: each ITEM is a command on PATH, or (when it names a file: has a dot or a
# slash) a file under ROOT. A dry run only notes what a real run would lack; a real run stops.
require() {
  local hint=$1 item missing=()
  shift
  for item in "$@"; do
    case "$item" in
      */*|*.*) [ -e "$ROOT/$item" ] || missing+=("$item") ;;
      *) command -v "$item" >/dev/null 2>&1 || missing+=("$item") ;;
    esac
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$DRY_RUN" = 1 ]; then
    echo "note: missing for a real run: ${missing[*]}" >&2
  else
    die "missing prerequisites: ${missing[*]} ($hint)"
  fi
}

# load_deploy_target: sets STACK and REGION from the profile and exports AWS_REGION.
load_deploy_target() {
  command -v python3 >/dev/null 2>&1 || { echo "python3 is needed to read samconfig.toml" >&2; exit 1; }
  [ -f "$ROOT/samconfig.toml" ] || { echo "no samconfig.toml in $ROOT" >&2; exit 1; }
  STACK=$(samconfig_value deploy stack_name)
  REGION=$(samconfig_value deploy region)
  if [ -z "$STACK" ] || [ -z "$REGION" ]; then
    echo "samconfig.toml's [$CONFIG_ENV] profile must name stack_name and region" >&2
    exit 1
  fi
  local exported=${AWS_REGION:-${AWS_DEFAULT_REGION:-}}
  if [ -n "$exported" ] && [ "$exported" != "$REGION" ]; then
    echo "note: AWS_REGION=$exported is ignored: samconfig.toml's [$CONFIG_ENV] profile deploys to $REGION" >&2
  fi
  export AWS_REGION=$REGION AWS_DEFAULT_REGION=$REGION
}

# stack_exists: 0 when the stack is deployed. A dry run prints the call and assumes the stack
# exists, or not with OCULUS_DRY_RUN_STACK=absent (to rehearse a first deploy).
stack_exists() {
  if [ "$DRY_RUN" = 1 ]; then
    printf '+ %s\n' "aws cloudformation describe-stacks --stack-name $STACK --region $REGION"
    [ "${OCULUS_DRY_RUN_STACK:-present}" != absent ]
    return
  fi
  aws cloudformation describe-stacks --stack-name "$STACK" --region "$REGION" >/dev/null 2>&1
}

# stack_output KEY: one output of the deployed stack (a placeholder in a dry run).
stack_output() {
  query "<$1>" aws cloudformation describe-stacks --stack-name "$STACK" --region "$REGION" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}

# publish_model_cards: copy each shipped classifier's version index (versions.json) and the card
# of every version to the stack's data bucket, where GET /model-info and POST /process/classify
# read them (idempotent; run after every deploy).
publish_model_cards() {
  local bucket file rel
  bucket=$(stack_output DataBucketName)
  for file in "$ROOT"/sagemaker/oculus/models/*/versions.json "$ROOT"/sagemaker/oculus/models/*/*/card.json; do
    [ -f "$file" ] || continue
    rel=${file#"$ROOT"/sagemaker/oculus/models/}
    run aws s3 cp "$file" "s3://$bucket/models/$rel" --region "$REGION" --content-type application/json
  done
}

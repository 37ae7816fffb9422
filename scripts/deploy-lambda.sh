#!/usr/bin/env bash
# Build and deploy the serverless backend (template.yaml) with SAM, using a samconfig.toml
# profile, then print the stack outputs the web app needs.
#
#   scripts/deploy-lambda.sh [--config-env NAME] [--image-uri URI] [--allowed-origin ORIGIN]
#                            [--region REGION] [--dry-run]
#
#   --config-env      samconfig.toml profile (default: default)
#   --image-uri       the inference image (first deploy; later deploys keep the stack's value)
#   --allowed-origin  the web app origin CORS allows (e.g. https://main.xxxx.amplifyapp.com)
#   --dry-run         print every AWS call instead of making it
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CONFIG_ENV=default
IMAGE_URI=""
ALLOWED_ORIGIN=""
REGION=""
DRY_RUN=0

usage() { sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "deploy-lambda.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --config-env) CONFIG_ENV=${2:?--config-env needs a value}; shift 2 ;;
    --image-uri) IMAGE_URI=${2:?--image-uri needs a value}; shift 2 ;;
    --allowed-origin) ALLOWED_ORIGIN=${2:?--allowed-origin needs a value}; shift 2 ;;
    --region) REGION=${2:?--region needs a value}; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option $1" ;;
  esac
done

# shellcheck source=scripts/lib/dry-run.sh
source "$ROOT/scripts/lib/dry-run.sh"

check_prerequisites() {
  local missing=() tool
  for tool in sam aws python3; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  [ -f "$ROOT/samconfig.toml" ] || missing+=("samconfig.toml (in $ROOT)")
  [ -f "$ROOT/template.yaml" ] || missing+=("template.yaml (in $ROOT)")
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$DRY_RUN" = 1 ]; then
      echo "note: missing for a real run: ${missing[*]}" >&2
    else
      die "missing prerequisites: ${missing[*]} (install the AWS CLI v2 and aws-sam-cli: pip install aws-sam-cli)"
    fi
  fi
}

# A value from samconfig.toml: [<env>.<command>.parameters] falls back to [<env>.global.parameters].
samconfig_value() {
  python3 - "$ROOT/samconfig.toml" "$CONFIG_ENV" "$1" "$2" <<'PY'
import sys, tomllib
path, env, command, key = sys.argv[1:]
with open(path, "rb") as fh:
    config = tomllib.load(fh)
section = config.get(env, {})
for scope in (command, "global"):
    value = section.get(scope, {}).get("parameters", {}).get(key)
    if value is not None:
        print(value)
        break
PY
}

check_prerequisites
[ -n "$(python3 - "$ROOT/samconfig.toml" "$CONFIG_ENV" <<'PY' 2>/dev/null || true
import sys, tomllib
print("yes" if sys.argv[2] in tomllib.load(open(sys.argv[1], "rb")) else "")
PY
)" ] || die "samconfig.toml has no [$CONFIG_ENV] profile"

STACK=$(samconfig_value deploy stack_name)
[ -n "$STACK" ] || die "samconfig.toml's [$CONFIG_ENV] profile names no stack_name"
[ -n "$REGION" ] || REGION=$(samconfig_value deploy region)
[ -n "$REGION" ] || REGION=${AWS_REGION:-${AWS_DEFAULT_REGION:-us-east-1}}
echo "deploying stack $STACK to $REGION (samconfig profile [$CONFIG_ENV])"

cd "$ROOT"
stack_exists=0
if [ "$DRY_RUN" = 1 ]; then
  run aws cloudformation describe-stacks --stack-name "$STACK" --region "$REGION"
  stack_exists=1
elif aws cloudformation describe-stacks --stack-name "$STACK" --region "$REGION" >/dev/null 2>&1; then
  stack_exists=1
fi
if [ -z "$IMAGE_URI" ] && [ "$stack_exists" = 0 ]; then
  die "the first deploy needs --image-uri (build and push it with scripts/deploy-sagemaker.sh --no-stack-update)"
fi

overrides=()
[ -n "$IMAGE_URI" ] && overrides+=("ImageUri=$IMAGE_URI")
[ -n "$ALLOWED_ORIGIN" ] && overrides+=("AllowedOrigin=$ALLOWED_ORIGIN")
# samconfig's own overrides stay: sam replaces the whole list when one is given on the command line.
base_overrides=$(samconfig_value deploy parameter_overrides)

run sam validate --lint --config-env "$CONFIG_ENV" --region "$REGION"
run sam build --config-env "$CONFIG_ENV"
deploy=(sam deploy --config-env "$CONFIG_ENV" --region "$REGION" --no-fail-on-empty-changeset)
if [ ${#overrides[@]} -gt 0 ]; then
  # shellcheck disable=SC2206 # samconfig's overrides are space-separated Key=Value words
  deploy+=(--parameter-overrides $base_overrides "${overrides[@]}")
fi
run "${deploy[@]}"
run aws cloudformation describe-stacks --stack-name "$STACK" --region "$REGION" \
  --query "Stacks[0].Outputs[].[OutputKey,OutputValue]" --output text

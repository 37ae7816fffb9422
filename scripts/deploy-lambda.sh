#!/usr/bin/env bash
# Build and deploy the serverless backend (template.yaml) with SAM, using a samconfig.toml
# profile, then print the stack outputs the web app needs.
#
#   scripts/deploy-lambda.sh [--config-env NAME] [--image-uri URI] [--allowed-origin ORIGIN]
#                            [--dry-run]
#
#   --config-env      samconfig.toml profile: stack name and region (default: default)
#   --image-uri       the inference image (first deploy; later deploys keep the stack's value)
#   --allowed-origin  the web app origin CORS allows (e.g. https://main.xxxx.amplifyapp.com)
#   --dry-run         print every AWS call instead of making it (OCULUS_DRY_RUN_STACK=absent
#                     rehearses the first deploy)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CONFIG_ENV=default
IMAGE_URI=""
ALLOWED_ORIGIN=""
DRY_RUN=0

usage() { sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "deploy-lambda.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --config-env) CONFIG_ENV=${2:?--config-env needs a value}; shift 2 ;;
    --image-uri) IMAGE_URI=${2:?--image-uri needs a value}; shift 2 ;;
    --allowed-origin) ALLOWED_ORIGIN=${2:?--allowed-origin needs a value}; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option $1" ;;
  esac
done

# shellcheck source=scripts/lib/dry-run.sh
source "$ROOT/scripts/lib/dry-run.sh"
# shellcheck source=scripts/lib/deploy-config.sh
source "$ROOT/scripts/lib/deploy-config.sh"

require "install the AWS CLI v2 and aws-sam-cli: pip install aws-sam-cli" \
  sam aws python3 samconfig.toml template.yaml
load_deploy_target
# sam build needs python3.12 on PATH: scripts/setup.sh links one here when the machine has it.
[ -x "$ROOT/.venv-iac/lambda-python/bin/python3.12" ] && PATH="$ROOT/.venv-iac/lambda-python/bin:$PATH"
echo "deploying stack $STACK to $REGION (samconfig profile [$CONFIG_ENV])"

cd "$ROOT"
if [ -z "$IMAGE_URI" ] && ! stack_exists; then
  die "the first deploy needs --image-uri (scripts/deploy-sagemaker.sh builds, pushes and passes it)"
fi

overrides=()
[ -n "$IMAGE_URI" ] && overrides+=("ImageUri=$IMAGE_URI")
[ -n "$ALLOWED_ORIGIN" ] && overrides+=("AllowedOrigin=$ALLOWED_ORIGIN")
# samconfig's own overrides stay: sam replaces the whole list when one is given on the command line.
base_overrides=$(samconfig_value deploy parameter_overrides)

run sam validate --lint --config-env "$CONFIG_ENV" --region "$REGION"
run sam build --config-env "$CONFIG_ENV"
# A script cannot answer sam's changeset prompt: --no-confirm-changeset whatever samconfig says.
deploy=(sam deploy --config-env "$CONFIG_ENV" --region "$REGION" --no-confirm-changeset --no-fail-on-empty-changeset)
if [ ${#overrides[@]} -gt 0 ]; then
  # shellcheck disable=SC2206 # samconfig's overrides are space-separated Key=Value words
  deploy+=(--parameter-overrides $base_overrides "${overrides[@]}")
fi
run "${deploy[@]}"
publish_model_cards
run aws cloudformation describe-stacks --stack-name "$STACK" --region "$REGION" \
  --query "Stacks[0].Outputs[].[OutputKey,OutputValue]" --output text

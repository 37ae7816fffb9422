#!/usr/bin/env bash
# Deploy checklist, checked: run it before the first deploy (and whenever one fails). Each check
# says ok, FAIL or skip, and every FAIL names the exact console or CLI step that fixes it.
#
#   scripts/preflight.sh [--config-env NAME] [--repository NAME] [--dry-run]
#
#   --config-env  samconfig.toml profile: stack name, region, instance type (default: default)
#   --repository  ECR repository of the inference image (default: iris-oculus-inference)
#   --dry-run     make no AWS call: print each check, the call it would make and its fix
#
# Checks: credentials (and the account), region, SageMaker GPU quota for the instance type,
# the ECR repository and its policy, the Cognito user pool (and its domain), the Amplify app's
# environment variables. Only read-only calls are made. Exit status 1 when a check fails.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CONFIG_ENV=default
REPOSITORY=iris-oculus-inference
DRY_RUN=0

usage() { sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "preflight.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --config-env) CONFIG_ENV=${2:?--config-env needs a value}; shift 2 ;;
    --repository) REPOSITORY=${2:?--repository needs a value}; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option $1" ;;
  esac
done

# shellcheck source=scripts/lib/dry-run.sh
source "$ROOT/scripts/lib/dry-run.sh"
# shellcheck source=scripts/lib/deploy-config.sh
source "$ROOT/scripts/lib/deploy-config.sh"

FAILED=0
ok() { printf '[ok]      %s\n' "$1"; }
fail() { printf '[FAIL]    %s\n          fix: %s\n' "$1" "$2"; FAILED=1; }
skip() { printf '[skip]    %s\n' "$1"; }
# dry: the check a dry run does not make, with the call it would make and the fix if it failed.
dry() { printf '[dry-run] %s\n          would run: %s\n          if it fails: %s\n' "$1" "$2" "$3"; }
# aws_answer ARGS...: the text answer of a read-only AWS call, or nothing when it fails.
aws_answer() { aws "$@" --region "$REGION" --output text 2>/dev/null || true; }
aws_json() { aws "$@" --region "$REGION" --output json 2>/dev/null || true; }

# A template parameter: samconfig's parameter_overrides, else the template's Default.
parameter() {
  local name=$1 value
  value=$(samconfig_value deploy parameter_overrides | tr ' ' '\n' | sed -n "s/^$name=//p" | tail -n 1)
  if [ -z "$value" ]; then
    value=$(awk -v name="  $name:" '$0 == name {inside=1; next} inside && /^  [A-Za-z]/ {exit}
      inside && $1 == "Default:" {print $2; exit}' "$ROOT/template.yaml")
  fi
  echo "$value"
}

load_deploy_target
INSTANCE_TYPE=$(parameter InstanceType)
MAX_INSTANCES=$(parameter MaxInstanceCount)
QUOTA_NAME="$INSTANCE_TYPE for endpoint usage"
echo "preflight for stack $STACK in $REGION (samconfig profile [$CONFIG_ENV]), endpoint on up to $MAX_INSTANCES x $INSTANCE_TYPE"
[ "$DRY_RUN" = 0 ] || echo "dry run: no AWS call is made"

# --- tools -----------------------------------------------------------------------------------
missing=()
for tool in aws sam docker python3; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -eq 0 ]; then
  ok "tools: aws, sam, docker, python3"
else
  fail "tools missing: ${missing[*]}" "install the AWS CLI v2 (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html), aws-sam-cli (pip install -r requirements-iac.txt) and Docker with buildx"
fi

# --- region ------------------------------------------------------------------------------------
ok "region: $REGION, from samconfig.toml [$CONFIG_ENV] (every deploy script uses it; AWS_REGION does not override it)"

# --- credentials -------------------------------------------------------------------------------
CREDENTIALS_FIX="aws configure (access keys) or aws sso login --profile NAME then export AWS_PROFILE=NAME; console: IAM > Users > Security credentials"
ACCOUNT=""
if [ "$DRY_RUN" = 1 ]; then
  dry "credentials" "aws sts get-caller-identity" "$CREDENTIALS_FIX"
elif ! command -v aws >/dev/null 2>&1; then
  skip "credentials: no AWS CLI"
else
  ACCOUNT=$(aws sts get-caller-identity --query Account --output text 2>/dev/null || true)
  if [ -n "$ACCOUNT" ]; then
    ok "credentials: account $ACCOUNT"
  else
    fail "credentials: none usable (aws sts get-caller-identity failed)" "$CREDENTIALS_FIX"
  fi
fi
checks_can_run() { [ "$DRY_RUN" = 0 ] && [ -n "$ACCOUNT" ]; }

# --- SageMaker GPU quota -----------------------------------------------------------------------
QUOTA_FIX="console: Service Quotas > AWS services > Amazon SageMaker > '$QUOTA_NAME' > Request increase to $MAX_INSTANCES; CLI: aws service-quotas request-service-quota-increase --service-code sagemaker --quota-code <QuotaCode from the list call> --desired-value $MAX_INSTANCES --region $REGION"
QUOTA_CALL=(service-quotas list-service-quotas --service-code sagemaker --query "Quotas[?QuotaName=='$QUOTA_NAME'].Value | [0]")
if [ "$DRY_RUN" = 1 ]; then
  dry "SageMaker quota '$QUOTA_NAME' >= $MAX_INSTANCES" "aws ${QUOTA_CALL[*]} --region $REGION" "$QUOTA_FIX"
elif checks_can_run; then
  quota=$(aws_answer "${QUOTA_CALL[@]}")
  if [ -n "$quota" ] && [ "$quota" != None ] && [ "${quota%.*}" -ge "$MAX_INSTANCES" ]; then
    ok "SageMaker quota '$QUOTA_NAME': $quota"
  else
    fail "SageMaker quota '$QUOTA_NAME' is ${quota:-unknown} (needed: $MAX_INSTANCES); new accounts start at 0 for GPU instances" "$QUOTA_FIX"
  fi
else
  skip "SageMaker quota: needs credentials"
fi

# --- ECR repository and its policy -------------------------------------------------------------
ECR_FIX="scripts/deploy-sagemaker.sh creates it (IMMUTABLE tags, scan on push); a repository in another account needs a policy allowing sagemaker.amazonaws.com ecr:BatchGetImage and ecr:GetDownloadUrlForLayer: aws ecr set-repository-policy --repository-name $REPOSITORY --policy-text file://policy.json --region $REGION"
if [ "$DRY_RUN" = 1 ]; then
  dry "ECR repository $REPOSITORY and its policy" \
    "aws ecr describe-repositories --repository-names $REPOSITORY --region $REGION; aws ecr get-repository-policy --repository-name $REPOSITORY --region $REGION" \
    "$ECR_FIX"
elif checks_can_run; then
  mutability=$(aws_answer ecr describe-repositories --repository-names "$REPOSITORY" --query "repositories[0].imageTagMutability")
  if [ -z "$mutability" ]; then
    ok "ECR repository $REPOSITORY: absent, scripts/deploy-sagemaker.sh will create it"
  elif aws_answer ecr get-repository-policy --repository-name "$REPOSITORY" --query policyText | grep -q '"Deny"'; then
    fail "ECR repository $REPOSITORY has a policy with a Deny statement: check it lets this account's SageMaker role pull" "$ECR_FIX"
  else
    ok "ECR repository $REPOSITORY ($mutability tags); same-account pulls go through the stack's SageMaker role"
  fi
else
  skip "ECR repository: needs credentials"
fi

# --- the stack: Cognito and Amplify ------------------------------------------------------------
COGNITO_FIX="deploy the stack first (scripts/deploy-sagemaker.sh); then create the first user: aws cognito-idp admin-create-user --user-pool-id <UserPoolId output> --username you@example.org --region $REGION"
AMPLIFY_VARIABLES=(VITE_API_URL VITE_USER_POOL_ID VITE_USER_POOL_CLIENT_ID VITE_REGION)
AMPLIFY_FIX="console: Amplify > your app > Hosting > Environment variables: set ${AMPLIFY_VARIABLES[*]} from the stack outputs (ApiUrl, UserPoolId, UserPoolClientId, region $REGION), then redeploy the branch; CLI: aws amplify update-app --app-id <appId> --environment-variables VITE_API_URL=...,VITE_USER_POOL_ID=...,VITE_USER_POOL_CLIENT_ID=...,VITE_REGION=$REGION --region $REGION"
if [ "$DRY_RUN" = 1 ]; then
  dry "Cognito user pool (the web app signs in with SRP: no hosted-UI domain is needed)" \
    "aws cloudformation describe-stacks --stack-name $STACK --region $REGION; aws cognito-idp describe-user-pool --user-pool-id <UserPoolId> --region $REGION" \
    "$COGNITO_FIX"
  dry "Amplify environment variables ${AMPLIFY_VARIABLES[*]}" "aws amplify list-apps --region $REGION" "$AMPLIFY_FIX"
elif checks_can_run; then
  pool=$(aws_answer cloudformation describe-stacks --stack-name "$STACK" --query "Stacks[0].Outputs[?OutputKey=='UserPoolId'].OutputValue | [0]")
  api=$(aws_answer cloudformation describe-stacks --stack-name "$STACK" --query "Stacks[0].Outputs[?OutputKey=='ApiUrl'].OutputValue | [0]")
  if [ -z "$pool" ] || [ "$pool" = None ]; then
    skip "Cognito and Amplify: stack $STACK is not deployed yet (its first deploy creates them)"
  else
    read -r users domain < <(aws_answer cognito-idp describe-user-pool --user-pool-id "$pool" \
      --query "[UserPool.EstimatedNumberOfUsers, UserPool.Domain]") || true
    if [ "${users:-0}" -ge 1 ] 2>/dev/null; then
      ok "Cognito user pool $pool: $users user(s); hosted-UI domain: ${domain:-None} (not needed)"
    else
      fail "Cognito user pool $pool has no user yet" "$COGNITO_FIX"
    fi
    variables=$(aws_json amplify list-apps --query "apps[].environmentVariables")
    missing_variables=()
    for name in "${AMPLIFY_VARIABLES[@]}"; do
      grep -q "\"$name\"" <<<"$variables" || missing_variables+=("$name")
    done
    if [ ${#missing_variables[@]} -gt 0 ]; then
      fail "Amplify: no app sets ${missing_variables[*]}" "$AMPLIFY_FIX"
    elif ! grep -q "\"VITE_API_URL\": \"$api\"" <<<"$variables"; then
      fail "Amplify: VITE_API_URL is not this stack's ApiUrl ($api)" "$AMPLIFY_FIX"
    else
      ok "Amplify: ${AMPLIFY_VARIABLES[*]} set, VITE_API_URL = $api"
    fi
  fi
else
  skip "Cognito and Amplify: need credentials"
fi

if [ "$DRY_RUN" = 1 ]; then
  echo "dry run done: run it without --dry-run, with credentials, to check"
elif [ "$FAILED" = 1 ]; then
  echo "preflight: fix the FAIL lines above before deploying"
  exit 1
else
  echo "preflight: ready to deploy (scripts/deploy-sagemaker.sh --config-env $CONFIG_ENV)"
fi

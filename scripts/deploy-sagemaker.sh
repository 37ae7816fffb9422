#!/usr/bin/env bash
# Build the inference container (sagemaker/Dockerfile), push it to ECR, publish the shipped
# classifier model cards to the data bucket, and point the stack's ImageUri parameter at the
# new image (CloudFormation then rolls the SageMaker endpoint onto it).
#
#   scripts/deploy-sagemaker.sh [--stack NAME] [--region REGION] [--repository NAME]
#                               [--tag TAG] [--no-stack-update] [--dry-run]
#
#   --stack            CloudFormation stack (default: samconfig.toml's default stack_name)
#   --repository       ECR repository (default: iris-oculus-inference; created if missing)
#   --tag              image tag (default: the git commit, with -dirty for local changes)
#   --no-stack-update  only build and push (the first deploy passes the URI to deploy-lambda.sh)
#   --dry-run          print every AWS and Docker call instead of making it
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STACK=""
REGION=""
REPOSITORY=iris-oculus-inference
TAG=""
UPDATE_STACK=1
DRY_RUN=0

usage() { sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "deploy-sagemaker.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --stack) STACK=${2:?--stack needs a value}; shift 2 ;;
    --region) REGION=${2:?--region needs a value}; shift 2 ;;
    --repository) REPOSITORY=${2:?--repository needs a value}; shift 2 ;;
    --tag) TAG=${2:?--tag needs a value}; shift 2 ;;
    --no-stack-update) UPDATE_STACK=0; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option $1" ;;
  esac
done

# shellcheck source=scripts/lib/dry-run.sh
source "$ROOT/scripts/lib/dry-run.sh"

check_prerequisites() {
  local missing=() tool
  for tool in aws docker python3 git; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  [ -f "$ROOT/sagemaker/Dockerfile" ] || missing+=("sagemaker/Dockerfile")
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$DRY_RUN" = 1 ]; then
      echo "note: missing for a real run: ${missing[*]}" >&2
    else
      die "missing prerequisites: ${missing[*]} (the AWS CLI v2 and a running Docker daemon are needed)"
    fi
  fi
  if [ "$DRY_RUN" = 0 ] && ! docker info >/dev/null 2>&1; then
    die "the Docker daemon is not reachable (start Docker, or run this where it runs)"
  fi
}

template_parameters() {
  # Top-level parameter names of template.yaml (every one but ImageUri keeps its value).
  awk '/^Parameters:/{inside=1; next} /^[A-Za-z]/{inside=0} inside && /^  [A-Za-z0-9]+:/{sub(":", "", $1); print $1}' \
    "$ROOT/template.yaml"
}

check_prerequisites
if [ -z "$STACK" ]; then
  STACK=$(python3 -c 'import sys, tomllib; c = tomllib.load(open(sys.argv[1], "rb")); print(c["default"]["global"]["parameters"]["stack_name"])' "$ROOT/samconfig.toml")
fi
[ -n "$REGION" ] || REGION=${AWS_REGION:-${AWS_DEFAULT_REGION:-us-east-1}}
if [ -z "$TAG" ]; then
  TAG=$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo dev)
  # tags are immutable in ECR: local changes get a unique one
  [ -z "$(git -C "$ROOT" status --porcelain -- sagemaker 2>/dev/null)" ] || TAG="$TAG-dirty-$(date -u +%Y%m%d%H%M%S)"
fi

ACCOUNT=$(query 123456789012 aws sts get-caller-identity --query Account --output text)
REGISTRY="$ACCOUNT.dkr.ecr.$REGION.amazonaws.com"
IMAGE="$REGISTRY/$REPOSITORY:$TAG"
echo "image $IMAGE for stack $STACK"

if [ "$DRY_RUN" = 1 ] || ! aws ecr describe-repositories --repository-names "$REPOSITORY" --region "$REGION" >/dev/null 2>&1; then
  [ "$DRY_RUN" = 1 ] && printf '+ %s\n' "aws ecr describe-repositories --repository-names $REPOSITORY --region $REGION"
  run aws ecr create-repository --repository-name "$REPOSITORY" --region "$REGION" \
    --image-scanning-configuration scanOnPush=true --image-tag-mutability IMMUTABLE
fi

printf '+ %s\n' "aws ecr get-login-password --region $REGION | docker login --username AWS --password-stdin $REGISTRY"
if [ "$DRY_RUN" = 0 ]; then
  aws ecr get-login-password --region "$REGION" | docker login --username AWS --password-stdin "$REGISTRY"
fi
# SageMaker runs x86_64 GPU instances: build for that platform whatever this machine is.
run docker build --platform linux/amd64 -f "$ROOT/sagemaker/Dockerfile" -t "$IMAGE" "$ROOT/sagemaker"
run docker push "$IMAGE"

if [ "$UPDATE_STACK" = 0 ]; then
  echo "pushed $IMAGE; deploy the stack with: scripts/deploy-lambda.sh --image-uri $IMAGE"
  exit 0
fi

BUCKET=$(query "<DataBucketName>" aws cloudformation describe-stacks --stack-name "$STACK" --region "$REGION" \
  --query "Stacks[0].Outputs[?OutputKey=='DataBucketName'].OutputValue" --output text)
for card in "$ROOT"/sagemaker/oculus/models/*/card.json; do
  [ -f "$card" ] || continue
  model=$(basename "$(dirname "$card")")
  run aws s3 cp "$card" "s3://$BUCKET/models/$model/card.json" --region "$REGION" --content-type application/json
done

parameters=("ParameterKey=ImageUri,ParameterValue=$IMAGE")
while read -r name; do
  [ "$name" = ImageUri ] || parameters+=("ParameterKey=$name,UsePreviousValue=true")
done < <(template_parameters)
run aws cloudformation update-stack --stack-name "$STACK" --region "$REGION" --use-previous-template \
  --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --parameters "${parameters[@]}"
run aws cloudformation wait stack-update-complete --stack-name "$STACK" --region "$REGION"
echo "stack $STACK now serves $IMAGE"

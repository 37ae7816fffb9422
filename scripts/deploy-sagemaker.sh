#!/usr/bin/env bash
# Build the inference container (sagemaker/Dockerfile), push it to ECR and roll the endpoint
# onto it. On the first deploy (no stack yet) it then creates the stack with deploy-lambda.sh;
# afterwards it points the stack's ImageUri parameter at the new image. The shipped classifier
# model cards are published to the data bucket whenever the stack exists.
#
#   scripts/deploy-sagemaker.sh [--config-env NAME] [--repository NAME] [--tag TAG]
#                               [--allowed-origin ORIGIN] [--no-stack-update] [--dry-run]
#
#   --config-env       samconfig.toml profile: stack name and region (default: default)
#   --repository       ECR repository (default: iris-oculus-inference; created if missing)
#   --tag              image tag (default: the git commit, with -dirty-<time> for local changes);
#                      a tag already in ECR is not built again (tags are immutable)
#   --allowed-origin   passed to deploy-lambda.sh on the first deploy
#   --no-stack-update  only build and push
#   --dry-run          print every AWS and Docker call instead of making it
#                      (OCULUS_DRY_RUN_STACK=absent rehearses the first deploy,
#                      OCULUS_DRY_RUN_IMAGE=present a tag already pushed)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CONFIG_ENV=default
REPOSITORY=iris-oculus-inference
TAG=""
ALLOWED_ORIGIN=""
UPDATE_STACK=1
DRY_RUN=0

usage() { sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "deploy-sagemaker.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --config-env) CONFIG_ENV=${2:?--config-env needs a value}; shift 2 ;;
    --repository) REPOSITORY=${2:?--repository needs a value}; shift 2 ;;
    --tag) TAG=${2:?--tag needs a value}; shift 2 ;;
    --allowed-origin) ALLOWED_ORIGIN=${2:?--allowed-origin needs a value}; shift 2 ;;
    --no-stack-update) UPDATE_STACK=0; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option $1" ;;
  esac
done

# shellcheck source=scripts/lib/dry-run.sh
source "$ROOT/scripts/lib/dry-run.sh"
# shellcheck source=scripts/lib/deploy-config.sh
source "$ROOT/scripts/lib/deploy-config.sh"

check_prerequisites() {
  require "the AWS CLI v2 and a running Docker daemon with buildx are needed" \
    aws docker python3 git sagemaker/Dockerfile
  if [ "$DRY_RUN" = 0 ] && ! docker buildx version >/dev/null 2>&1; then
    die "docker buildx is not available (Docker Desktop and docker-buildx-plugin have it)"
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

# image_exists: 0 when the tag is already in the repository. A dry run assumes it is not,
# or is with OCULUS_DRY_RUN_IMAGE=present.
image_exists() {
  if [ "$DRY_RUN" = 1 ]; then
    printf '+ %s\n' "aws ecr describe-images --repository-name $REPOSITORY --image-ids imageTag=$TAG --region $REGION"
    [ "${OCULUS_DRY_RUN_IMAGE:-absent}" = present ]
    return
  fi
  aws ecr describe-images --repository-name "$REPOSITORY" --image-ids "imageTag=$TAG" --region "$REGION" >/dev/null 2>&1
}

check_prerequisites
load_deploy_target
if [ -z "$TAG" ]; then
  TAG=$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo dev)
  # tags are immutable in ECR: local changes get a unique one
  [ -z "$(git -C "$ROOT" status --porcelain -- sagemaker 2>/dev/null)" ] || TAG="$TAG-dirty-$(date -u +%Y%m%d%H%M%S)"
fi

ACCOUNT=$(query 123456789012 aws sts get-caller-identity --query Account --output text)
REGISTRY="$ACCOUNT.dkr.ecr.$REGION.amazonaws.com"
IMAGE="$REGISTRY/$REPOSITORY:$TAG"
echo "image $IMAGE for stack $STACK in $REGION (samconfig profile [$CONFIG_ENV])"

if [ "$DRY_RUN" = 1 ] || ! aws ecr describe-repositories --repository-names "$REPOSITORY" --region "$REGION" >/dev/null 2>&1; then
  [ "$DRY_RUN" = 1 ] && printf '+ %s\n' "aws ecr describe-repositories --repository-names $REPOSITORY --region $REGION"
  run aws ecr create-repository --repository-name "$REPOSITORY" --region "$REGION" \
    --image-scanning-configuration scanOnPush=true --image-tag-mutability IMMUTABLE
fi

if image_exists; then
  echo "$IMAGE is already in ECR (tags are immutable): not building it again"
else
  printf '+ %s\n' "aws ecr get-login-password --region $REGION | docker login --username AWS --password-stdin $REGISTRY"
  if [ "$DRY_RUN" = 0 ]; then
    aws ecr get-login-password --region "$REGION" | docker login --username AWS --password-stdin "$REGISTRY"
  fi
  # SageMaker runs x86_64 instances: build for that platform whatever this machine is. buildx
  # would otherwise attach provenance/SBOM attestations, making the push an OCI image index,
  # which CreateModel rejects: a plain single-platform manifest only.
  run docker buildx build --platform linux/amd64 --provenance=false --sbom=false --push \
    -f "$ROOT/sagemaker/Dockerfile" -t "$IMAGE" "$ROOT/sagemaker"
  media_type=$(query "application/vnd.docker.distribution.manifest.v2+json" aws ecr describe-images \
    --repository-name "$REPOSITORY" --image-ids "imageTag=$TAG" --region "$REGION" \
    --query "imageDetails[0].imageManifestMediaType" --output text)
  case "$media_type" in
    *index*|*manifest.list*) die "$IMAGE was pushed as $media_type (a multi-manifest index): SageMaker needs a single image manifest" ;;
  esac
fi

if [ "$UPDATE_STACK" = 0 ]; then
  if stack_exists; then
    publish_model_cards
  fi
  echo "pushed $IMAGE; deploy the stack with: scripts/deploy-lambda.sh --config-env $CONFIG_ENV --image-uri $IMAGE"
  exit 0
fi

if ! stack_exists; then
  echo "stack $STACK does not exist yet: first deploy with deploy-lambda.sh"
  first=("$ROOT/scripts/deploy-lambda.sh" --config-env "$CONFIG_ENV" --image-uri "$IMAGE")
  [ -n "$ALLOWED_ORIGIN" ] && first+=(--allowed-origin "$ALLOWED_ORIGIN")
  [ "$DRY_RUN" = 1 ] && first+=(--dry-run)
  exec "${first[@]}"  # it publishes the model cards once the stack's bucket exists
fi

current=$(query "<ImageUri>" aws cloudformation describe-stacks --stack-name "$STACK" --region "$REGION" \
  --query "Stacks[0].Parameters[?ParameterKey=='ImageUri'].ParameterValue" --output text)
if [ "$current" = "$IMAGE" ]; then
  publish_model_cards
  echo "stack $STACK already serves $IMAGE"
  exit 0
fi

parameters=("ParameterKey=ImageUri,ParameterValue=$IMAGE")
while read -r name; do
  [ "$name" = ImageUri ] || parameters+=("ParameterKey=$name,UsePreviousValue=true")
done < <(template_parameters)
run aws cloudformation update-stack --stack-name "$STACK" --region "$REGION" --use-previous-template \
  --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --parameters "${parameters[@]}"
run aws cloudformation wait stack-update-complete --stack-name "$STACK" --region "$REGION"
publish_model_cards
echo "stack $STACK now serves $IMAGE"

#!/usr/bin/env bash
# Operate the asynchronous inference endpoint of a deployed stack.
#
#   scripts/manage-sagemaker.sh start|stop|status [--config-env NAME] [--dry-run]
#
#   start    keep one instance warm (minimum capacity 1, and one instance now)
#   stop     allow scaling to zero again (minimum capacity 0); the backlog policy scales in
#            when idle and the HasBacklogWithoutCapacity alarm wakes it on the next job
#   status   endpoint state, instance count and the queued-request backlog
#   --config-env  samconfig.toml profile: stack name and region (default: default)
#   --dry-run     print every AWS call instead of making it
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ACTION=""
CONFIG_ENV=default
DRY_RUN=0
VARIANT=AllTraffic
DIMENSION=sagemaker:variant:DesiredInstanceCount

usage() { sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "manage-sagemaker.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    start|stop|status) ACTION=$1; shift ;;
    --config-env) CONFIG_ENV=${2:?--config-env needs a value}; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument $1" ;;
  esac
done
[ -n "$ACTION" ] || { usage >&2; die "say start, stop or status"; }

# shellcheck source=scripts/lib/dry-run.sh
source "$ROOT/scripts/lib/dry-run.sh"
# shellcheck source=scripts/lib/deploy-config.sh
source "$ROOT/scripts/lib/deploy-config.sh"

require "install the AWS CLI v2" aws python3

load_deploy_target
ENDPOINT=$(stack_output EndpointName)
[ -n "$ENDPOINT" ] && [ "$ENDPOINT" != None ] || die "stack $STACK has no EndpointName output"
RESOURCE="endpoint/$ENDPOINT/variant/$VARIANT"

max_capacity() {
  query 1 aws application-autoscaling describe-scalable-targets --service-namespace sagemaker \
    --resource-ids "$RESOURCE" --scalable-dimension "$DIMENSION" --region "$REGION" \
    --query "ScalableTargets[0].MaxCapacity" --output text
}

case "$ACTION" in
  start)
    max=$(max_capacity)
    run aws application-autoscaling register-scalable-target --service-namespace sagemaker \
      --resource-id "$RESOURCE" --scalable-dimension "$DIMENSION" --min-capacity 1 --max-capacity "$max" --region "$REGION"
    run aws sagemaker update-endpoint-weights-and-capacities --endpoint-name "$ENDPOINT" --region "$REGION" \
      --desired-weights-and-capacities "VariantName=$VARIANT,DesiredInstanceCount=1"
    echo "an instance of $ENDPOINT is starting (a GPU instance takes several minutes); it stays warm until 'stop'"
    ;;
  stop)
    max=$(max_capacity)
    run aws application-autoscaling register-scalable-target --service-namespace sagemaker \
      --resource-id "$RESOURCE" --scalable-dimension "$DIMENSION" --min-capacity 0 --max-capacity "$max" --region "$REGION"
    echo "$ENDPOINT may scale to zero now: the backlog policy removes idle instances after its cooldown"
    ;;
  status)
    run aws sagemaker describe-endpoint --endpoint-name "$ENDPOINT" --region "$REGION" \
      --query "{status: EndpointStatus, instances: ProductionVariants[0].CurrentInstanceCount, desired: ProductionVariants[0].DesiredInstanceCount}" \
      --output table
    start=$(date -u -d '-15 minutes' +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || date -u -v-15M +%Y-%m-%dT%H:%M:%SZ)
    end=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    for metric in ApproximateBacklogSize HasBacklogWithoutCapacity; do
      run aws cloudwatch get-metric-statistics --namespace AWS/SageMaker --metric-name "$metric" \
        --dimensions "Name=EndpointName,Value=$ENDPOINT" --start-time "$start" --end-time "$end" \
        --period 300 --statistics Maximum --region "$REGION" \
        --query "sort_by(Datapoints, &Timestamp)[-1].Maximum" --output text
    done
    ;;
esac

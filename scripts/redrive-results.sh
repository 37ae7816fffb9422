#!/usr/bin/env bash
# Look at and redrive the job notifications that reached the results dead-letter queue.
#
#   scripts/redrive-results.sh status|peek|redrive [--config-env NAME] [--dry-run]
#
#   status   how many notifications wait in the dead-letter queue (ResultsDeadLetterAlarm fires on any)
#   peek     print up to 10 of them without removing them (ids only: no patient data in them)
#   redrive  move them all back to the results queue (SQS StartMessageMoveTask), so the results
#            consumer applies them again; it is idempotent, so a notification applied twice is harmless
#   --config-env  samconfig.toml profile: stack name and region (default: default)
#   --dry-run     print every AWS call instead of making it
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ACTION=""
CONFIG_ENV=default
DRY_RUN=0

usage() { sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "redrive-results.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    status|peek|redrive) ACTION=$1; shift ;;
    --config-env) CONFIG_ENV=${2:?--config-env needs a value}; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument $1" ;;
  esac
done
[ -n "$ACTION" ] || { usage >&2; die "say status, peek or redrive"; }

# shellcheck source=scripts/lib/dry-run.sh
source "$ROOT/scripts/lib/dry-run.sh"
# shellcheck source=scripts/lib/deploy-config.sh
source "$ROOT/scripts/lib/deploy-config.sh"

require "install the AWS CLI v2" aws

load_deploy_target
DLQ_ARN=$(stack_output ResultsDeadLetterQueueArn)
[ -n "$DLQ_ARN" ] && [ "$DLQ_ARN" != None ] || die "stack $STACK has no ResultsDeadLetterQueueArn output"
DLQ_URL=$(query "https://sqs.$REGION.amazonaws.com/000000000000/dlq" \
  aws sqs get-queue-url --queue-name "${DLQ_ARN##*:}" --region "$REGION" --query QueueUrl --output text)

case "$ACTION" in
  status)
    run aws sqs get-queue-attributes --queue-url "$DLQ_URL" --region "$REGION" \
      --attribute-names ApproximateNumberOfMessages ApproximateNumberOfMessagesNotVisible \
      --query Attributes --output table
    ;;
  peek)
    # visibility 0: the messages stay where they are for the consumer-side redrive
    run aws sqs receive-message --queue-url "$DLQ_URL" --region "$REGION" --max-number-of-messages 10 \
      --visibility-timeout 0 --query "Messages[].Body" --output json
    ;;
  redrive)
    # no destination: SQS moves them back to the queue they were dead-lettered from
    run aws sqs start-message-move-task --source-arn "$DLQ_ARN" --region "$REGION"
    echo "moving the dead letters back to the results queue; 'status' shows the count falling to 0"
    ;;
esac

#!/usr/bin/env bash
# Sets up (see setup.sh) and runs the whole product on this machine, no AWS account needed:
# moto for S3/DynamoDB/SNS/SQS/Cognito, the API from the real handlers, the inference server,
# a SageMaker-async stand-in and the web app. Ctrl-C stops everything it started.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/setup.sh
exec .venv/bin/python scripts/oculus-local up "$@"

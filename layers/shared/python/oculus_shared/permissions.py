"""What each function's code calls on AWS, and the IAM grant each call needs: the explicit
table next to the adapters (``blob_store``, ``job_store``, ``invoker``).

moto does not enforce IAM, so a missing grant only shows on a real account, as a 403 (for a
read of a missing S3 key without ``s3:ListBucket``: a 403 where the code expects a 404).
``tests/integration/backend/test_permissions.py`` holds this table to the code (every boto3
operation in the adapters has rows; the handlers' real calls on moto are all in their
function's rows) and to ``template.yaml`` (each function's role grants every row, and
nothing more).

A resource names a template resource: ``DataBucket/uploads/*`` (objects under a prefix),
``DataBucket?prefix=uploads/`` (ListBucket limited to a prefix), ``DataBucket`` (the bucket
itself, any prefix), ``JobTable``, ``JobTable/index/*``, ``Endpoint``, ``DataKey``.
Not imported by any handler: it is data for the tests and for reviewers.
"""

from __future__ import annotations

from typing import NamedTuple


class Call(NamedTuple):
    operation: str  # "service.boto3_method" (presigned URLs: "s3.presign:put_object")
    action: str  # the IAM action the call needs
    resource: str


def _reads_may_miss(prefix: str) -> tuple[Call, ...]:
    """A GET/HEAD of a key that may not exist: with ListBucket S3 says 404, without it 403."""
    return (
        Call("s3.head_object", "s3:GetObject", f"DataBucket/{prefix}*"),
        Call("s3.get_object", "s3:GetObject", f"DataBucket/{prefix}*"),
        Call("s3.get_object", "s3:ListBucket", f"DataBucket?prefix={prefix}"),
    )


_KMS_WRITE = (Call("s3.put_object", "kms:GenerateDataKey", "DataKey"),)  # SSE-KMS objects
_KMS_READ = (Call("s3.get_object", "kms:Decrypt", "DataKey"),)
# DynamoDB decrypts a table under a customer managed key with the caller's kms:Decrypt
_KMS_TABLE = (Call("dynamodb.get_item", "kms:Decrypt", "DataKey"),)

#: ``service._remove_objects``: a deleted (or cancelled) job's upload, results, manifest, answers
_REMOVES_JOB_OBJECTS = (
    Call("s3.list_objects_v2", "s3:ListBucket", "DataBucket?prefix=uploads/"),
    Call("s3.list_objects_v2", "s3:ListBucket", "DataBucket?prefix=results/"),
    Call("s3.list_objects_v2", "s3:ListBucket", "DataBucket?prefix=async/requests/"),
    Call("s3.delete_objects", "s3:DeleteObject", "DataBucket/uploads/*"),
    Call("s3.delete_objects", "s3:DeleteObject", "DataBucket/results/*"),
    Call("s3.delete_objects", "s3:DeleteObject", "DataBucket/async/requests/*"),
    Call("s3.delete_object", "s3:DeleteObject", "DataBucket/async/outputs/*"),
    Call("s3.delete_object", "s3:DeleteObject", "DataBucket/async/failures/*"),
    Call("s3.abort_multipart_upload", "s3:AbortMultipartUpload", "DataBucket/uploads/*"),
    Call("dynamodb.delete_item", "dynamodb:DeleteItem", "JobTable"),
)

FUNCTION_CALLS: dict[str, tuple[Call, ...]] = {
    "UploadFunction": (
        Call("dynamodb.put_item", "dynamodb:PutItem", "JobTable"),
        Call("dynamodb.get_item", "dynamodb:GetItem", "JobTable"),
        Call("dynamodb.update_item", "dynamodb:UpdateItem", "JobTable"),
        Call("dynamodb.query", "dynamodb:Query", "JobTable/index/*"),  # per-user upload quota
        Call("s3.presign:put_object", "s3:PutObject", "DataBucket/uploads/*"),
        Call("s3.presign:upload_part", "s3:PutObject", "DataBucket/uploads/*"),
        Call("s3.create_multipart_upload", "s3:PutObject", "DataBucket/uploads/*"),
        Call("s3.complete_multipart_upload", "s3:PutObject", "DataBucket/uploads/*"),
        Call("s3.list_parts", "s3:ListMultipartUploadParts", "DataBucket/uploads/*"),
        Call("s3.put_object", "s3:PutObject", "DataBucket/uploads/*"),  # inline uploads
        Call("s3.head_object", "s3:ListBucket", "DataBucket?prefix=uploads/"),  # complete before the PUT: 409
        *_reads_may_miss("uploads/"),
        *_KMS_WRITE, *_KMS_READ, *_KMS_TABLE,
    ),
    "ProcessFunction": (
        Call("dynamodb.get_item", "dynamodb:GetItem", "JobTable"),
        Call("dynamodb.update_item", "dynamodb:UpdateItem", "JobTable"),
        Call("dynamodb.query", "dynamodb:Query", "JobTable/index/*"),  # per-user active jobs
        Call("powertools.idempotency", "dynamodb:GetItem", "IdempotencyTable"),
        Call("powertools.idempotency", "dynamodb:PutItem", "IdempotencyTable"),
        Call("powertools.idempotency", "dynamodb:UpdateItem", "IdempotencyTable"),
        Call("powertools.idempotency", "dynamodb:DeleteItem", "IdempotencyTable"),
        Call("s3.put_object", "s3:PutObject", "DataBucket/async/requests/*"),
        # the classifier versions served (a classify job's modelVersion is checked against them)
        Call("s3.get_object", "s3:GetObject", "DataBucket/models/*"),
        Call("sagemaker-runtime.invoke_endpoint_async", "sagemaker:InvokeEndpointAsync", "Endpoint"),
        *_KMS_WRITE, *_KMS_READ, *_KMS_TABLE,
    ),
    "JobsFunction": (
        Call("dynamodb.get_item", "dynamodb:GetItem", "JobTable"),
        Call("dynamodb.update_item", "dynamodb:UpdateItem", "JobTable"),
        Call("dynamodb.query", "dynamodb:Query", "JobTable/index/*"),
        *_reads_may_miss("results/"),  # progress.json while a job runs
        Call("s3.presign:get_object", "s3:GetObject", "DataBucket/results/*"),
        *_REMOVES_JOB_OBJECTS,
        Call("sagemaker.describe_endpoint", "sagemaker:DescribeEndpoint", "Endpoint"),  # "waking GPU"
        *_KMS_READ, *_KMS_TABLE,
    ),
    "HealthFunction": (
        Call("dynamodb.describe_table", "dynamodb:DescribeTable", "JobTable"),
        Call("s3.head_bucket", "s3:ListBucket", "DataBucket"),  # HeadBucket: ListBucket with no prefix
        Call("s3.get_object", "s3:GetObject", "DataBucket/models/*"),  # the model card
        # the engine's capabilities (GET /capabilities); before its first start a 404 (ListBucket above)
        Call("s3.get_object", "s3:GetObject", "DataBucket/engine/capabilities.json"),
        Call("s3.get_object", "s3:ListBucket", "DataBucket"),
        Call("sagemaker.describe_endpoint", "sagemaker:DescribeEndpoint", "Endpoint"),
        *_KMS_READ,
    ),
    "ResultsFunction": (
        Call("dynamodb.get_item", "dynamodb:GetItem", "JobTable"),
        Call("dynamodb.update_item", "dynamodb:UpdateItem", "JobTable"),
        *_reads_may_miss("async/outputs/"),
        *_reads_may_miss("async/failures/"),
        *_REMOVES_JOB_OBJECTS,  # a job cancelled while it ran, once its answer arrives
        # a job whose engine died is queued once more: a new manifest and invocation
        Call("s3.put_object", "s3:PutObject", "DataBucket/async/requests/*"),
        Call("sagemaker-runtime.invoke_endpoint_async", "sagemaker:InvokeEndpointAsync", "Endpoint"),
        *_KMS_WRITE, *_KMS_READ, *_KMS_TABLE,
    ),
    "SweeperFunction": (
        Call("dynamodb.scan", "dynamodb:Scan", "JobTable"),  # jobs past their deadline
        Call("dynamodb.get_item", "dynamodb:GetItem", "JobTable"),
        Call("dynamodb.update_item", "dynamodb:UpdateItem", "JobTable"),
        *_REMOVES_JOB_OBJECTS,  # cancelled jobs whose answer never came
        *_KMS_TABLE,
    ),
}

#: the engine's role (SageMakerExecutionRole): reads its manifest and input, writes results and
#: answers, publishes only its own notifications
ENGINE_CALLS: tuple[Call, ...] = (
    Call("sagemaker.read_request", "s3:GetObject", "DataBucket/async/requests/*"),
    *_reads_may_miss("uploads/"),
    Call("s3.put_object", "s3:PutObject", "DataBucket/results/*"),
    Call("s3.upload_file", "s3:AbortMultipartUpload", "DataBucket/results/*"),  # a big file's failed upload
    Call("sagemaker.write_answer", "s3:PutObject", "DataBucket/async/outputs/*"),
    Call("sagemaker.write_answer", "s3:PutObject", "DataBucket/async/failures/*"),
    Call("s3.put_object", "s3:PutObject", "DataBucket/engine/capabilities.json"),  # at each start
    Call("sagemaker.notify", "sns:Publish", "SuccessTopic"),
    Call("sagemaker.notify", "sns:Publish", "ErrorTopic"),
    Call("s3.put_object", "kms:GenerateDataKey", "DataKey"),
    Call("s3.get_object", "kms:Decrypt", "DataKey"),
)

"""The project's own template.yaml, created in moto: what the template says is what exists."""

from __future__ import annotations

import json

import pytest
from oculus_local.resources import ResourceBuilder
from oculus_local.sagemaker_async import read_async_endpoints
from oculus_local.template import Resolver, load_template

from .conftest import REPO_ROOT

ORIGIN = "http://127.0.0.1:5999"


@pytest.fixture(scope="module")
def built(moto_client):
    template = load_template(REPO_ROOT / "template.yaml")
    params = {"AllowedOrigin": ORIGIN}
    params.update({n: "local" for n, spec in template.get("Parameters", {}).items() if "Default" not in spec})
    resolver = Resolver(template, "us-east-1", "123456789012", "unit", params)
    return template, ResourceBuilder(resolver, moto_client).build_all()


def _of_type(template, rtype):
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] == rtype}


def test_tables_have_the_templates_keys_indexes_and_ttl(built, moto_client):
    template, stack = built
    dynamodb = moto_client("dynamodb")
    tables = _of_type(template, "AWS::DynamoDB::Table")
    assert tables
    for logical_id, resource in tables.items():
        name = stack.resolver.refs[logical_id]
        table = dynamodb.describe_table(TableName=name)["Table"]
        assert table["KeySchema"] == resource["Properties"]["KeySchema"]
        want_indexes = {g["IndexName"]: g["KeySchema"] for g in resource["Properties"].get("GlobalSecondaryIndexes", [])}
        assert {g["IndexName"]: g["KeySchema"] for g in table.get("GlobalSecondaryIndexes", [])} == want_indexes
        ttl = resource["Properties"].get("TimeToLiveSpecification")
        described = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        if ttl:
            assert described == {"TimeToLiveStatus": "ENABLED", "AttributeName": ttl["AttributeName"]}
        else:
            assert described["TimeToLiveStatus"] == "DISABLED"


def test_bucket_cors_allows_the_local_web_origin(built, moto_client):
    template, stack = built
    with_cors = {lid: r for lid, r in _of_type(template, "AWS::S3::Bucket").items()
                 if "CorsConfiguration" in r.get("Properties", {})}
    assert with_cors
    for logical_id in with_cors:
        rules = moto_client("s3").get_bucket_cors(Bucket=stack.resolver.refs[logical_id])["CORSRules"]
        assert rules[0]["AllowedOrigins"] == [ORIGIN]
        assert "PUT" in rules[0]["AllowedMethods"]


def test_the_tls_only_bucket_policy_is_the_one_thing_skipped(built, moto_client):
    template, stack = built
    for logical_id in _of_type(template, "AWS::S3::BucketPolicy"):
        assert logical_id in stack.skipped
    bucket = stack.resolver.refs[next(iter(_of_type(template, "AWS::S3::Bucket")))]
    moto_client("s3").put_object(Bucket=bucket, Key="probe", Body=b"x")  # not denied


def test_queues_redrive_and_topics_deliver_to_them(built, moto_client):
    template, stack = built
    sqs, sns = moto_client("sqs"), moto_client("sns")
    for logical_id, resource in _of_type(template, "AWS::SQS::Queue").items():
        redrive = resource["Properties"].get("RedrivePolicy")
        if not redrive:
            continue
        attributes = sqs.get_queue_attributes(QueueUrl=stack.resolver.refs[logical_id], AttributeNames=["All"])
        policy = json.loads(attributes["Attributes"]["RedrivePolicy"])
        dlq_id = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
        assert policy["deadLetterTargetArn"] == stack.resolver.attrs[(dlq_id, "Arn")]
        assert int(policy["maxReceiveCount"]) == redrive["maxReceiveCount"]
    for resource in _of_type(template, "AWS::SNS::Subscription").values():
        topic_arn = stack.resolver.refs[resource["Properties"]["TopicArn"]["Ref"]]
        endpoints = {s["Endpoint"] for s in sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]}
        queue_id = resource["Properties"]["Endpoint"]["Fn::GetAtt"][0]
        assert stack.resolver.attrs[(queue_id, "Arn")] in endpoints


def test_user_pool_and_client_follow_the_template(built, moto_client):
    template, stack = built
    cognito = moto_client("cognito-idp")
    (pool_id, pool), = _of_type(template, "AWS::Cognito::UserPool").items()
    described = cognito.describe_user_pool(UserPoolId=stack.resolver.refs[pool_id])["UserPool"]
    want = pool["Properties"]["Policies"]["PasswordPolicy"]["MinimumLength"]
    assert described["Policies"]["PasswordPolicy"]["MinimumLength"] == want
    (client_id, client), = _of_type(template, "AWS::Cognito::UserPoolClient").items()
    details = cognito.describe_user_pool_client(UserPoolId=stack.resolver.refs[pool_id],
                                                ClientId=stack.resolver.refs[client_id])["UserPoolClient"]
    assert set(details["ExplicitAuthFlows"]) == set(client["Properties"]["ExplicitAuthFlows"])


def test_the_async_endpoint_config_resolves_to_local_paths_and_topics(built):
    template, stack = built
    endpoints = read_async_endpoints(template, stack.properties, stack.resolver.refs)
    assert len(endpoints) == 1
    (endpoint,) = endpoints.values()
    bucket = stack.resolver.refs["DataBucket"] if "DataBucket" in stack.resolver.refs else None
    assert endpoint.output_path.startswith("s3://") and (bucket is None or bucket in endpoint.output_path)
    topic_arns = {stack.resolver.refs[lid] for lid in _of_type(template, "AWS::SNS::Topic")}
    assert endpoint.success_topic in topic_arns and endpoint.error_topic in topic_arns
    assert endpoint.success_topic != endpoint.error_topic

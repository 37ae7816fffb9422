"""Create the template's data-plane resources in moto: tables, bucket, topics, queues,
subscriptions and the Cognito user pool with its client.

Resources the local stack does not need as AWS objects (IAM, Lambda functions, the API,
SageMaker, alarms, scaling) are not created; their ``!Ref``/``!GetAtt`` still resolve to
stable local names so everything that mentions them resolves too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .template import Resolver, TemplateError, Unresolved, resource_condition_holds

log = logging.getLogger("oculus_local.resources")

# Properties CloudFormation and the service APIs name alike, passed through as they are.
_USER_POOL_KEYS = (
    "UserPoolName", "Policies", "LambdaConfig", "AutoVerifiedAttributes", "AliasAttributes",
    "UsernameAttributes", "MfaConfiguration", "DeviceConfiguration", "EmailConfiguration",
    "AdminCreateUserConfig", "Schema", "UsernameConfiguration", "AccountRecoverySetting",
    "UserAttributeUpdateSettings", "DeletionProtection", "UserPoolTags",
)
_CLIENT_KEYS = (
    "ClientName", "GenerateSecret", "RefreshTokenValidity", "AccessTokenValidity",
    "IdTokenValidity", "TokenValidityUnits", "ReadAttributes", "WriteAttributes",
    "ExplicitAuthFlows", "SupportedIdentityProviders", "CallbackURLs", "LogoutURLs",
    "AllowedOAuthFlows", "AllowedOAuthScopes", "AllowedOAuthFlowsUserPoolClient",
    "PreventUserExistenceErrors", "EnableTokenRevocation",
)
_TABLE_KEYS = (
    "TableName", "AttributeDefinitions", "KeySchema", "BillingMode", "ProvisionedThroughput",
    "GlobalSecondaryIndexes", "LocalSecondaryIndexes", "Tags",
)  # SSESpecification / point-in-time recovery mean nothing in memory and are left out
_NAME_PROPERTY = {
    "AWS::Serverless::Function": "FunctionName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::SageMaker::Endpoint": "EndpointName",
    "AWS::SageMaker::EndpointConfig": "EndpointConfigName",
    "AWS::SageMaker::Model": "ModelName",
    "AWS::IAM::Role": "RoleName",
    "AWS::Logs::LogGroup": "LogGroupName",
}


@dataclass
class LocalStack:
    """What was created: the resolver (with every Ref/GetAtt value) and resolved properties."""

    resolver: Resolver
    properties: dict[str, dict] = field(default_factory=dict)  # logical id -> resolved Properties
    created: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def of_type(self, *types: str) -> list[str]:
        resources = self.resolver.template["Resources"]
        return [lid for lid in self.properties if resources[lid]["Type"] in types]


class ResourceBuilder:
    """Creates each supported resource through boto3 clients pointed at moto."""

    def __init__(self, resolver: Resolver, client: Callable[[str], Any]) -> None:
        self.r = resolver
        self.client = client
        self.stack = LocalStack(resolver)
        self._deferred: list[str] = []
        self._builders: dict[str, Callable[[str, dict], None]] = {
            "AWS::DynamoDB::Table": self._table,
            "AWS::Serverless::SimpleTable": self._simple_table,
            "AWS::S3::Bucket": self._bucket,
            "AWS::SNS::Topic": self._topic,
            "AWS::SQS::Queue": self._queue,
            "AWS::SNS::Subscription": self._subscription,
            "AWS::Cognito::UserPool": self._user_pool,
            "AWS::Cognito::UserPoolClient": self._user_pool_client,
        }

    def local_name(self, logical_id: str) -> str:
        return f"{self.r.stack_name}-{logical_id}"

    def build_all(self) -> LocalStack:
        resources = self.r.template["Resources"]
        pending = [lid for lid, res in resources.items() if resource_condition_holds(self.r, res)]
        # Creation order follows references: a resource whose Ref is not known yet waits a round.
        while pending:
            waiting: list[str] = []
            blockers: dict[str, str] = {}
            for logical_id in pending:
                try:
                    self._build(logical_id, resources[logical_id])
                except Unresolved as exc:
                    waiting.append(logical_id)
                    blockers[logical_id] = exc.logical_id
            if len(waiting) == len(pending):
                detail = ", ".join(f"{k} needs {v}" for k, v in blockers.items())
                raise TemplateError(f"circular or unresolvable references: {detail}")
            pending = waiting
        self._resolve_deferred_properties()
        return self.stack

    def _resolve_deferred_properties(self) -> None:
        """Skipped resources' properties that named something created later, resolved now."""
        for logical_id in self._deferred:
            raw = self.r.template["Resources"][logical_id].get("Properties") or {}
            try:
                self.stack.properties[logical_id] = self.r.resolve(raw)
            except (Unresolved, TemplateError) as exc:
                log.debug("%s keeps unresolved properties (%s)", logical_id, exc)

    def _build(self, logical_id: str, resource: dict) -> None:
        rtype = resource["Type"]
        builder = self._builders.get(rtype)
        if builder is None:
            self._placeholder(logical_id, resource)
            return
        props = self.r.resolve(resource.get("Properties") or {})
        builder(logical_id, props)
        self.stack.properties[logical_id] = props
        self.stack.created.append(logical_id)

    def _placeholder(self, logical_id: str, resource: dict) -> None:
        """Not an AWS object locally, but its Ref/GetAtt and properties still resolve."""
        rtype = resource["Type"]
        name_key = _NAME_PROPERTY.get(rtype)
        raw_props = resource.get("Properties") or {}
        name = self.local_name(logical_id)
        if name_key and name_key in raw_props:
            name = self.r.resolve(raw_props[name_key])
        if rtype == "AWS::S3::BucketPolicy":
            log.warning("skipping %s (%s): the TLS-only bucket policy is not applied locally; "
                     "moto ignores its condition and would deny every request", logical_id, rtype)
        self.r.refs[logical_id] = name
        arn = f"arn:aws:{rtype.split('::')[1].lower()}:{self.r.region}:{self.r.account_id}:{name}"
        for attribute in ("Arn", "Name", "EndpointName", "ModelName", "EndpointConfigName", "RoleId"):
            self.r.attrs[(logical_id, attribute)] = arn if attribute == "Arn" else name
        # Properties of skipped resources are read (e.g. the endpoint's async config) once
        # everything exists; a skipped resource never holds up the ones that are created.
        self.stack.properties[logical_id] = raw_props
        self._deferred.append(logical_id)
        self.stack.skipped.append(logical_id)

    # --- DynamoDB -----------------------------------------------------------------------
    def _table(self, logical_id: str, props: dict) -> None:
        kwargs = {k: props[k] for k in _TABLE_KEYS if k in props}
        kwargs.setdefault("TableName", self.local_name(logical_id))
        kwargs.setdefault("BillingMode", "PROVISIONED")
        if kwargs["BillingMode"] == "PROVISIONED":
            kwargs.setdefault("ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5})
        if "StreamSpecification" in props:
            kwargs["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        dynamodb = self.client("dynamodb")
        description = dynamodb.create_table(**kwargs)["TableDescription"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(
                TableName=kwargs["TableName"],
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
        self.r.refs[logical_id] = kwargs["TableName"]
        self.r.attrs[(logical_id, "Arn")] = description["TableArn"]
        self.r.attrs[(logical_id, "StreamArn")] = description.get("LatestStreamArn", "")
        log.info("table %s (%s)", kwargs["TableName"], ", ".join(
            i["IndexName"] for i in kwargs.get("GlobalSecondaryIndexes", [])) or "no indexes")

    def _simple_table(self, logical_id: str, props: dict) -> None:
        key = props.get("PrimaryKey", {"Name": "id", "Type": "String"})
        attr_type = {"String": "S", "Number": "N", "Binary": "B"}[key["Type"]]
        self._table(logical_id, {
            "TableName": props.get("TableName", self.local_name(logical_id)),
            "AttributeDefinitions": [{"AttributeName": key["Name"], "AttributeType": attr_type}],
            "KeySchema": [{"AttributeName": key["Name"], "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST",
        })

    # --- S3 -------------------------------------------------------------------------------
    def _bucket(self, logical_id: str, props: dict) -> None:
        name = props.get("BucketName", self.local_name(logical_id).lower())
        s3 = self.client("s3")
        if self.r.region == "us-east-1":
            s3.create_bucket(Bucket=name)
        else:
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": self.r.region})
        rules = (props.get("CorsConfiguration") or {}).get("CorsRules")
        if rules:
            s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": [_cors_rule(r) for r in rules]})
        self.r.refs[logical_id] = name
        self.r.attrs[(logical_id, "Arn")] = f"arn:aws:s3:::{name}"
        self.r.attrs[(logical_id, "DomainName")] = f"{name}.s3.amazonaws.com"
        self.r.attrs[(logical_id, "RegionalDomainName")] = f"{name}.s3.{self.r.region}.amazonaws.com"
        log.info("bucket %s (%d CORS rules)", name, len(rules or []))

    # --- SNS / SQS ------------------------------------------------------------------------
    def _topic(self, logical_id: str, props: dict) -> None:
        name = props.get("TopicName", self.local_name(logical_id))
        sns = self.client("sns")
        arn = sns.create_topic(Name=name)["TopicArn"]
        self.r.refs[logical_id] = arn
        self.r.attrs[(logical_id, "TopicArn")] = arn
        self.r.attrs[(logical_id, "TopicName")] = name
        for sub in props.get("Subscription", []):
            sns.subscribe(TopicArn=arn, Protocol=sub["Protocol"], Endpoint=sub["Endpoint"])
        log.info("topic %s", name)

    def _queue(self, logical_id: str, props: dict) -> None:
        name = props.get("QueueName", self.local_name(logical_id))
        attributes = {}
        for key in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "MaximumMessageSize",
                    "ReceiveMessageWaitTimeSeconds", "FifoQueue", "ContentBasedDeduplication"):
            if key in props:
                value = props[key]
                attributes[key] = str(value).lower() if isinstance(value, bool) else str(value)
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.r.refs[logical_id] = url
        self.r.attrs[(logical_id, "Arn")] = arn
        self.r.attrs[(logical_id, "QueueName")] = name
        self.r.attrs[(logical_id, "QueueUrl")] = url
        log.info("queue %s%s", name, " (with redrive)" if "RedrivePolicy" in props else "")

    def _subscription(self, logical_id: str, props: dict) -> None:
        attributes = {}
        if props.get("RawMessageDelivery") is not None:
            attributes["RawMessageDelivery"] = str(props["RawMessageDelivery"]).lower()
        if "FilterPolicy" in props:
            attributes["FilterPolicy"] = json.dumps(props["FilterPolicy"])
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
        arn = self.client("sns").subscribe(
            TopicArn=props["TopicArn"], Protocol=props["Protocol"], Endpoint=props["Endpoint"],
            Attributes=attributes, ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        self.r.refs[logical_id] = arn
        log.info("subscription %s -> %s", props["TopicArn"].rsplit(":", 1)[-1], props["Endpoint"].rsplit(":", 1)[-1])

    # --- Cognito --------------------------------------------------------------------------
    def _user_pool(self, logical_id: str, props: dict) -> None:
        kwargs = {k: props[k] for k in _USER_POOL_KEYS if k in props}
        kwargs.setdefault("PoolName", kwargs.pop("UserPoolName", self.local_name(logical_id)))
        pool = self.client("cognito-idp").create_user_pool(**kwargs)["UserPool"]
        pool_id = pool["Id"]
        if "SOFTWARE_TOKEN_MFA" in (props.get("EnabledMfas") or []):  # not a CreateUserPool field
            self.client("cognito-idp").set_user_pool_mfa_config(
                UserPoolId=pool_id, SoftwareTokenMfaConfiguration={"Enabled": True},
                MfaConfiguration=props.get("MfaConfiguration", "OPTIONAL"),
            )
        provider = f"cognito-idp.{self.r.region}.amazonaws.com/{pool_id}"
        self.r.refs[logical_id] = pool_id
        self.r.attrs.update({
            (logical_id, "Arn"): pool["Arn"],
            (logical_id, "UserPoolId"): pool_id,
            (logical_id, "ProviderName"): provider,
            (logical_id, "ProviderURL"): f"https://{provider}",
        })
        log.info("user pool %s (%s)", kwargs["PoolName"], pool_id)

    def _user_pool_client(self, logical_id: str, props: dict) -> None:
        kwargs = {k: props[k] for k in _CLIENT_KEYS if k in props}
        kwargs.setdefault("ClientName", self.local_name(logical_id))
        client = self.client("cognito-idp").create_user_pool_client(UserPoolId=props["UserPoolId"], **kwargs)
        details = client["UserPoolClient"]
        self.r.refs[logical_id] = details["ClientId"]
        self.r.attrs[(logical_id, "ClientId")] = details["ClientId"]
        self.r.attrs[(logical_id, "ClientSecret")] = details.get("ClientSecret", "")
        self.r.attrs[(logical_id, "Name")] = details["ClientName"]
        log.info("user pool client %s", details["ClientName"])


def _cors_rule(rule: dict) -> dict:
    """CloudFormation's CorsRule names differ from the S3 API's (MaxAge, ExposedHeaders, Id)."""
    out = {k: rule[k] for k in ("AllowedHeaders", "AllowedMethods", "AllowedOrigins") if k in rule}
    if "ExposedHeaders" in rule:
        out["ExposeHeaders"] = rule["ExposedHeaders"]
    if "Id" in rule:
        out["ID"] = rule["Id"]
    if "MaxAge" in rule:
        out["MaxAgeSeconds"] = int(rule["MaxAge"])
    return out

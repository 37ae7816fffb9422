"""Intrinsic functions resolve as CloudFormation resolves them."""

from __future__ import annotations

import textwrap

import pytest
from oculus_local.template import Resolver, TemplateError, Unresolved, load_template

TEMPLATE = textwrap.dedent("""
    Parameters:
      Stage: {Type: String, Default: prod}
      Size: {Type: Number, Default: 30}
      Needed: {Type: String}
    Conditions:
      IsProd: !Equals [!Ref Stage, prod]
      NotProd: !Not [!Condition IsProd]
    Resources:
      Bucket:
        Type: AWS::S3::Bucket
      Queue:
        Type: AWS::SQS::Queue
        Properties:
          QueueName: !Sub "${AWS::StackName}-q-${Stage}"
          Arn: !GetAtt Bucket.Arn
          Joined: !Join ["/", [a, !Ref Size]]
          Maybe: !If [NotProd, yes-value, !Ref AWS::NoValue]
          Pick: !If [IsProd, [1, 2], [3]]
          Literal: !Sub "${!NotAVariable}"
          Path: !Sub "${Bucket.Arn}/uploads/*"
""")


@pytest.fixture()
def resolver(tmp_path):
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    return Resolver(load_template(path), "eu-west-1", "123456789012", "stack", {"Needed": "given"})


def test_short_tags_resolve_against_created_resources(resolver):
    resolver.attrs[("Bucket", "Arn")] = "arn:aws:s3:::b"
    props = resolver.resolve(resolver.template["Resources"]["Queue"]["Properties"])
    assert props == {
        "QueueName": "stack-q-prod",
        "Arn": "arn:aws:s3:::b",
        "Joined": "a/30",  # a Number parameter reaches the template as a string
        "Pick": [1, 2],
        "Literal": "${NotAVariable}",
        "Path": "arn:aws:s3:::b/uploads/*",
    }


def test_a_resource_not_created_yet_is_reported_for_a_retry(resolver):
    with pytest.raises(Unresolved) as caught:
        resolver.resolve({"Fn::GetAtt": ["Bucket", "Arn"]})
    assert caught.value.logical_id == "Bucket"


def test_overrides_conditions_and_unknown_names(resolver):
    assert resolver.ref("Needed") == "given"
    assert resolver.condition("NotProd") is False
    resolver.parameter_overrides["Stage"] = "dev"
    assert resolver.condition("NotProd") is True
    with pytest.raises(TemplateError):
        resolver.ref("Nowhere")


def test_a_parameter_without_default_or_override_is_an_error(tmp_path):
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    bare = Resolver(load_template(path), "eu-west-1", "123456789012", "stack")
    with pytest.raises(TemplateError, match="Needed"):
        bare.ref("Needed")


def test_a_file_without_resources_is_refused(tmp_path):
    path = tmp_path / "template.yaml"
    path.write_text("Parameters: {}\n")
    with pytest.raises(TemplateError, match="no Resources"):
        load_template(path)

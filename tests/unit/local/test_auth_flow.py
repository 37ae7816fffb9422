"""Why the local stack's web app signs in with USER_PASSWORD_AUTH while AWS uses SRP: moto
answers USER_SRP_AUTH with a random SRP_B and accepts any PASSWORD_CLAIM_SIGNATURE, so with
SRP any password would sign in locally. When moto starts checking the proof this test fails:
then the local stack's ``AuthFlow`` output can go (the web app defaults to SRP)."""

from __future__ import annotations

import pytest
from moto import mock_aws


@pytest.fixture
def cognito(monkeypatch):
    import boto3

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield boto3.client("cognito-idp")


def test_moto_accepts_an_srp_proof_made_without_the_password(cognito):
    pool = cognito.create_user_pool(PoolName="p")["UserPool"]["Id"]
    client = cognito.create_user_pool_client(UserPoolId=pool, ClientName="c",
                                             ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH"])["UserPoolClient"]["ClientId"]
    cognito.admin_create_user(UserPoolId=pool, Username="u@example.org", MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=pool, Username="u@example.org", Password="Real-Passw0rd!", Permanent=True)
    start = cognito.initiate_auth(ClientId=client, AuthFlow="USER_SRP_AUTH",
                                  AuthParameters={"USERNAME": "u@example.org", "SRP_A": "1234"})
    assert start["ChallengeName"] == "PASSWORD_VERIFIER"
    answer = cognito.respond_to_auth_challenge(
        ClientId=client, ChallengeName="PASSWORD_VERIFIER", Session=start["Session"],
        ChallengeResponses={"USERNAME": start["ChallengeParameters"]["USERNAME"],
                            "PASSWORD_CLAIM_SECRET_BLOCK": start["ChallengeParameters"]["SECRET_BLOCK"],
                            "PASSWORD_CLAIM_SIGNATURE": "bm90IGEgcHJvb2Y=", "TIMESTAMP": "Sat Nov 28 22:00:00 UTC 2026"})
    assert "IdToken" in answer["AuthenticationResult"]  # signed in with no knowledge of the password


"""A body that is not JSON is a 400 ``invalid_json``, a body of another media type a 415: never a 500."""

from __future__ import annotations

import pytest

POST_ROUTES = ["/upload", "/upload/job-1/complete", "/process/totalseg", "/process/classify"]


@pytest.mark.parametrize("path", POST_ROUTES)
@pytest.mark.parametrize("raw", ["{not json", "[1, 2", "\x00\x01", '{"jobId": "a"'])
def test_a_body_that_is_not_json_is_a_400(api, aws, path, raw):
    answer = api.call("POST", path, raw_body=raw)
    assert answer.status == 400, answer.raw
    assert answer.json == {"ok": False, "error": {"code": "invalid_json", "message": answer.json["error"]["message"]}}


@pytest.mark.parametrize("path", POST_ROUTES)
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_a_body_of_another_media_type_is_a_415(api, aws, path, content_type):
    answer = api.call("POST", path, raw_body='{"jobId": "x"}', content_type=content_type)
    assert answer.status == 415, answer.raw
    assert answer.json["ok"] is False
    assert answer.json["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize("path", POST_ROUTES)
def test_json_with_a_charset_is_still_json(api, aws, path):
    answer = api.call("POST", path, raw_body="{}", content_type="application/json; charset=utf-8")
    assert answer.status not in (400, 415) and answer.status < 500, answer.raw

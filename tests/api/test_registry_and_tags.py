"""DescribeRegistry, TagResource, UntagResource, ListTagsForResource (reference §3.27–3.30, §4),
and the AWS JSON 1.1 wire protocol itself (§1.2–1.4)."""

from __future__ import annotations

import pytest

from ecr_support import ACCOUNT_ID, REGION, ecr_raw, expect_error, unique


def _arn(name: str, account: str = ACCOUNT_ID, region: str = REGION) -> str:
    return f"arn:aws:ecr:{region}:{account}:repository/{name}"


def _tags(ecr, arn) -> dict:
    return {t["Key"]: t["Value"] for t in ecr.list_tags_for_resource(resourceArn=arn)["tags"]}


# ---------------------------------------------------------------------------------------------
# DescribeRegistry

def test_describe_registry_returns_registry_id_and_empty_replication(ecr):
    r = ecr.describe_registry()
    assert r["registryId"] == ACCOUNT_ID
    assert r["replicationConfiguration"] == {"rules": []}


def test_describe_registry_accepts_empty_body(berth):
    r = ecr_raw(berth.url, "DescribeRegistry", b"{}")
    assert r.status == 200 and r.body["registryId"] == ACCOUNT_ID


# ---------------------------------------------------------------------------------------------
# TagResource / UntagResource / ListTagsForResource

def test_list_tags_for_resource_empty(ecr, repo):
    assert ecr.list_tags_for_resource(resourceArn=_arn(repo))["tags"] == []


def test_tag_resource_upserts(ecr, repo):
    arn = _arn(repo)
    assert {k: v for k, v in ecr.tag_resource(resourceArn=arn, tags=[{"Key": "a", "Value": "1"},
                                                                      {"Key": "b", "Value": "2"}]).items()
            if k != "ResponseMetadata"} == {}
    ecr.tag_resource(resourceArn=arn, tags=[{"Key": "b", "Value": "two"}, {"Key": "c", "Value": ""}])
    assert _tags(ecr, arn) == {"a": "1", "b": "two", "c": ""}


def test_tag_resource_keys_are_case_sensitive(ecr, repo):
    arn = _arn(repo)
    ecr.tag_resource(resourceArn=arn, tags=[{"Key": "Team", "Value": "x"}, {"Key": "team", "Value": "y"}])
    assert _tags(ecr, arn) == {"Team": "x", "team": "y"}


def test_untag_resource_removes_keys_and_ignores_absent_ones(ecr, repo):
    arn = _arn(repo)
    ecr.tag_resource(resourceArn=arn, tags=[{"Key": k, "Value": k} for k in "abc"])
    ecr.untag_resource(resourceArn=arn, tagKeys=["a", "zzz"])
    assert _tags(ecr, arn) == {"b": "b", "c": "c"}


def test_tag_resource_uses_arn_returned_by_create(ecr, repo_name):
    arn = ecr.create_repository(repositoryName=repo_name)["repository"]["repositoryArn"]
    ecr.tag_resource(resourceArn=arn, tags=[{"Key": "k", "Value": "v"}])
    assert _tags(ecr, arn) == {"k": "v"}


def test_tag_resource_too_many_tags(ecr, repo):
    arn = _arn(repo)
    ecr.tag_resource(resourceArn=arn, tags=[{"Key": f"k{i}", "Value": "v"} for i in range(45)])
    expect_error("TooManyTagsException", ecr.tag_resource, resourceArn=arn,
                 tags=[{"Key": f"new{i}", "Value": "v"} for i in range(6)])
    assert len(_tags(ecr, arn)) == 45, "a refused TagResource changes nothing"
    ecr.tag_resource(resourceArn=arn, tags=[{"Key": f"new{i}", "Value": "v"} for i in range(5)])
    assert len(_tags(ecr, arn)) == 50
    # Replacing values of existing keys does not count as new tags.
    ecr.tag_resource(resourceArn=arn, tags=[{"Key": "k0", "Value": "changed"}])
    assert _tags(ecr, arn)["k0"] == "changed"


@pytest.mark.parametrize("key", [
    pytest.param("aws:owner", id="lower"),
    pytest.param("aws:", id="bare"),
    pytest.param("AWS:owner", id="upper"),
])
def test_tag_resource_rejects_reserved_aws_prefix(ecr, repo, key):
    arn = _arn(repo)
    expect_error("InvalidTagParameterException", ecr.tag_resource, resourceArn=arn,
                 tags=[{"Key": "fine", "Value": "1"}, {"Key": key, "Value": "x"}])
    assert _tags(ecr, arn) == {}


@pytest.mark.parametrize("tag", [{"Key": "k" * 129, "Value": "v"}, {"Key": "k", "Value": "v" * 257}],
                         ids=["key-129", "value-257"])
def test_tag_resource_rejects_oversized_tag(ecr, repo, tag):
    expect_error("InvalidTagParameterException", ecr.tag_resource, resourceArn=_arn(repo), tags=[tag])
    assert _tags(ecr, _arn(repo)) == {}


def test_tag_resource_rejects_empty_key(ecr, repo):
    try:
        ecr.tag_resource(resourceArn=_arn(repo), tags=[{"Key": "", "Value": "v"}])
    except (ecr.exceptions.InvalidTagParameterException, ecr.exceptions.InvalidParameterException):
        pass
    else:
        raise AssertionError("an empty tag key was accepted")
    assert _tags(ecr, _arn(repo)) == {}


def test_tag_resource_accepts_maximum_sizes(ecr, repo):
    ecr.tag_resource(resourceArn=_arn(repo), tags=[{"Key": "k" * 128, "Value": "v" * 256}])
    assert _tags(ecr, _arn(repo)) == {"k" * 128: "v" * 256}


@pytest.mark.parametrize("make_arn", [
    pytest.param(lambda n: "not-an-arn", id="garbage"),
    pytest.param(lambda n: n, id="bare-name"),
    pytest.param(lambda n: f"arn:aws:s3:::{n}", id="other-service"),
    pytest.param(lambda n: f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:image/{n}", id="not-repository"),
    pytest.param(lambda n: f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/", id="empty-name"),
    pytest.param(lambda n: f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/Upper/Case", id="invalid-name"),
    pytest.param(lambda n: f"arn:aws:ecr:{REGION}:12345:repository/{n}", id="bad-account"),
])
@pytest.mark.parametrize("operation", ["tag", "untag", "list"])
def test_tag_resource_rejects_bad_arn(ecr, repo, make_arn, operation):
    arn = make_arn(repo)
    call = {"tag": lambda: ecr.tag_resource(resourceArn=arn, tags=[{"Key": "k", "Value": "v"}]),
            "untag": lambda: ecr.untag_resource(resourceArn=arn, tagKeys=["k"]),
            "list": lambda: ecr.list_tags_for_resource(resourceArn=arn)}[operation]
    expect_error("InvalidParameterException", call)
    assert _tags(ecr, _arn(repo)) == {}


@pytest.mark.parametrize("operation", ["tag", "untag", "list"])
def test_tag_resource_missing_repository(ecr, operation):
    arn = _arn(f"api/missing-{unique()}")
    call = {"tag": lambda: ecr.tag_resource(resourceArn=arn, tags=[{"Key": "k", "Value": "v"}]),
            "untag": lambda: ecr.untag_resource(resourceArn=arn, tagKeys=["k"]),
            "list": lambda: ecr.list_tags_for_resource(resourceArn=arn)}[operation]
    expect_error("RepositoryNotFoundException", call)


def test_tag_resource_arn_of_other_region_is_not_this_repository(ecr, repo):
    try:
        ecr.tag_resource(resourceArn=_arn(repo, region="eu-west-1"), tags=[{"Key": "k", "Value": "v"}])
    except (ecr.exceptions.RepositoryNotFoundException, ecr.exceptions.InvalidParameterException):
        pass
    else:
        raise AssertionError("an ARN naming another region tagged this region's repository")
    assert _tags(ecr, _arn(repo)) == {}


def test_tags_go_with_the_repository(ecr, repo_name):
    ecr.create_repository(repositoryName=repo_name, tags=[{"Key": "k", "Value": "v"}])
    ecr.delete_repository(repositoryName=repo_name)
    ecr.create_repository(repositoryName=repo_name)
    assert _tags(ecr, _arn(repo_name)) == {}


# ---------------------------------------------------------------------------------------------
# The wire protocol

def test_protocol_success_headers(berth):
    r = ecr_raw(berth.url, "DescribeRegistry", {})
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("application/x-amz-json-1.1")
    assert r.headers.get("x-amzn-RequestId")


def test_protocol_error_shape(berth):
    r = ecr_raw(berth.url, "DescribeRepositories", {"repositoryNames": [f"api/missing-{unique()}"]})
    assert r.status == 400
    assert r.error_type == "RepositoryNotFoundException"
    assert "does not exist" in r.message and ACCOUNT_ID in r.message
    assert r.headers["Content-Type"].startswith("application/x-amz-json-1.1")
    assert r.headers.get("x-amzn-RequestId")
    assert r.headers.get("x-amzn-ErrorType", "RepositoryNotFoundException").split(":")[0] == "RepositoryNotFoundException"


def test_protocol_unknown_operation(berth):
    r = ecr_raw(berth.url, "FlyToTheMoon", {})
    assert (r.status, r.error_type) == (400, "UnknownOperationException"), r.text
    r = ecr_raw(berth.url, "", {}, target="SomeOtherService_20200101.DescribeRegistry")
    assert (r.status, r.error_type) == (400, "UnknownOperationException"), r.text


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"repositoryName": 42}', b'{"maxResults": "ten"}'],
                         ids=["broken", "array", "number-for-string", "string-for-number"])
def test_protocol_malformed_body(berth, body):
    operation = "DescribeRepositories" if b"maxResults" in body else "CreateRepository"
    r = ecr_raw(berth.url, operation, body)
    assert r.status == 400 and r.error_type in ("SerializationException", "InvalidParameterException"), r.text


def test_protocol_accepts_application_json(berth):
    r = ecr_raw(berth.url, "DescribeRegistry", {}, headers={"Content-Type": "application/json"})
    assert r.status == 200, r.text


def test_protocol_ignores_unknown_members(berth):
    r = ecr_raw(berth.url, "DescribeRegistry", {"someFutureMember": {"x": 1}})
    assert r.status == 200, r.text

"""CreateRepository, DescribeRepositories, DeleteRepository, PutImageTagMutability,
PutImageScanningConfiguration (reference §3.1–3.3, §3.15, §3.16, §1.6, §1.7)."""

from __future__ import annotations

import datetime

import pytest
import requests
from botocore.exceptions import ClientError

from ecr_content import push_image
from ecr_support import ACCOUNT_ID, REGION, ecr_client, ecr_raw, expect_error, tampered_tokens, unique


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


# ---------------------------------------------------------------------------------------------
# CreateRepository

def test_create_repository_returns_all_fields_with_defaults(ecr, repo_name):
    repository = ecr.create_repository(repositoryName=repo_name)["repository"]
    assert repository["repositoryName"] == repo_name
    assert repository["registryId"] == ACCOUNT_ID
    assert repository["repositoryArn"] == f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/{repo_name}"
    assert repository["repositoryUri"].endswith("/" + repo_name)
    assert "://" not in repository["repositoryUri"], "a repository URI is a Docker reference, no scheme"
    assert abs((_now() - repository["createdAt"]).total_seconds()) < 60
    assert repository["imageTagMutability"] == "MUTABLE"
    assert repository["imageScanningConfiguration"] == {"scanOnPush": False}
    assert repository["encryptionConfiguration"]["encryptionType"] == "AES256"


def test_create_repository_honours_settings_and_tags(ecr, repo_name):
    repository = ecr.create_repository(
        repositoryName=repo_name, imageTagMutability="IMMUTABLE",
        imageScanningConfiguration={"scanOnPush": True},
        tags=[{"Key": "team", "Value": "infra"}, {"Key": "env", "Value": ""}])["repository"]
    assert repository["imageTagMutability"] == "IMMUTABLE"
    assert repository["imageScanningConfiguration"] == {"scanOnPush": True}
    described = ecr.describe_repositories(repositoryNames=[repo_name])["repositories"][0]
    assert described["imageTagMutability"] == "IMMUTABLE"
    assert described["imageScanningConfiguration"] == {"scanOnPush": True}
    tags = ecr.list_tags_for_resource(resourceArn=repository["repositoryArn"])["tags"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("env", ""), ("team", "infra")]


def test_create_repository_already_exists(ecr, repo):
    e = expect_error("RepositoryAlreadyExistsException", ecr.create_repository, repositoryName=repo)
    assert repo in e.response["Error"]["Message"]


@pytest.mark.parametrize("name", [
    "Upper/app", "app/UPPER", "app/", "-app", "app-", "a//b", "a_-b", "a..b", "/app", "app:tag",
    "a" * 257, "arn:aws:ecr:us-east-1:000000000000:repository/app",
], ids=["upper-namespace", "upper-leaf", "trailing-slash", "leading-dash", "trailing-dash",
        "empty-component", "mixed-separators", "double-dot", "leading-slash", "colon", "257-chars", "arn"])
def test_create_repository_rejects_invalid_name(ecr, name):
    e = expect_error("InvalidParameterException", ecr.create_repository, repositoryName=name)
    assert "repositoryName" in e.response["Error"]["Message"]


@pytest.mark.parametrize("make", [
    pytest.param(lambda u: f"a.b/c__d/e--f-{u}", id="r1-separators"),
    pytest.param(lambda u: f"1app-{u}", id="leading-digit"),
    pytest.param(lambda u: f"deep/er/name/space/{u}", id="nested"),
    pytest.param(lambda u: ("n" * 246) + "-" + u, id="255-chars"),
    pytest.param(lambda u: ("n" * 247) + "-" + u, id="256-chars", marks=pytest.mark.xfail(
        strict=True, reason="berth caps repository names at 255 characters (ECR allows 256) and "
                            "rejects a 256-character name with the regular-expression message")),
])
def test_create_repository_accepts_valid_name(ecr, make):
    name = make(unique())
    try:
        assert ecr.create_repository(repositoryName=name)["repository"]["repositoryName"] == name
        assert ecr.describe_repositories(repositoryNames=[name])["repositories"][0]["repositoryName"] == name
    finally:
        try:
            ecr.delete_repository(repositoryName=name, force=True)
        except ClientError:
            pass


def test_create_repository_rejects_one_character_name(ecr_unvalidated, repo_name):
    # botocore refuses this client-side; other SDKs do not (§1.6).
    expect_error("InvalidParameterException", ecr_unvalidated.create_repository, repositoryName="a")


def test_create_repository_requires_name(ecr_unvalidated):
    expect_error("InvalidParameterException", ecr_unvalidated.create_repository)


def test_create_repository_rejects_bad_mutability_enum(ecr, repo_name):
    e = expect_error("InvalidParameterException", ecr.create_repository,
                     repositoryName=repo_name, imageTagMutability="SOMETIMES")
    assert "imageTagMutability" in e.response["Error"]["Message"]
    expect_error("RepositoryNotFoundException", ecr.describe_repositories, repositoryNames=[repo_name])


def test_create_repository_rejects_bad_encryption_type(ecr, repo_name):
    expect_error("InvalidParameterException", ecr.create_repository, repositoryName=repo_name,
                 encryptionConfiguration={"encryptionType": "ROT13"})
    expect_error("RepositoryNotFoundException", ecr.describe_repositories, repositoryNames=[repo_name])


def test_create_repository_rejects_too_many_tags(ecr, repo_name):
    tags = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    expect_error("TooManyTagsException", ecr.create_repository, repositoryName=repo_name, tags=tags)
    expect_error("RepositoryNotFoundException", ecr.describe_repositories, repositoryNames=[repo_name])


def test_create_repository_rejects_reserved_tag_key(ecr, repo_name):
    expect_error("InvalidTagParameterException", ecr.create_repository, repositoryName=repo_name,
                 tags=[{"Key": "aws:createdBy", "Value": "me"}])
    expect_error("RepositoryNotFoundException", ecr.describe_repositories, repositoryNames=[repo_name])


def test_create_repository_with_exclusion_filters(berth, ecr, repo_name):
    # botocore 1.29 predates the *_WITH_EXCLUSION modes, so this goes out as a raw signed request.
    filters = [{"filterType": "WILDCARD", "filter": "latest"}, {"filterType": "WILDCARD", "filter": "dev-*"}]
    r = ecr_raw(berth.url, "CreateRepository", {"repositoryName": repo_name,
                                                "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
                                                "imageTagMutabilityExclusionFilters": filters})
    assert r.status == 200, r.text
    assert r.body["repository"]["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert r.body["repository"]["imageTagMutabilityExclusionFilters"] == filters


def test_create_repository_rejects_exclusion_filters_with_plain_mode(berth, ecr, repo_name):
    r = ecr_raw(berth.url, "CreateRepository", {
        "repositoryName": repo_name, "imageTagMutability": "IMMUTABLE",
        "imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD", "filter": "latest"}]})
    assert (r.status, r.error_type) == (400, "InvalidParameterException"), r.text
    r = ecr_raw(berth.url, "CreateRepository", {"repositoryName": repo_name,
                                                "imageTagMutability": "MUTABLE_WITH_EXCLUSION"})
    assert (r.status, r.error_type) == (400, "InvalidParameterException"), r.text
    expect_error("RepositoryNotFoundException", ecr.describe_repositories, repositoryNames=[repo_name])


# ---------------------------------------------------------------------------------------------
# DescribeRepositories

def test_describe_repositories_by_names(ecr, repo_factory):
    names = [repo_factory(), repo_factory()]
    found = ecr.describe_repositories(repositoryNames=names)["repositories"]
    assert sorted(r["repositoryName"] for r in found) == sorted(names)


def test_describe_repositories_missing_name_fails_whole_call(ecr, repo):
    missing = f"api/missing-{unique()}"
    e = expect_error("RepositoryNotFoundException", ecr.describe_repositories, repositoryNames=[repo, missing])
    assert missing in e.response["Error"]["Message"]


def test_describe_repositories_rejects_more_than_100_names(ecr, repo):
    expect_error("InvalidParameterException", ecr.describe_repositories, repositoryNames=[repo] * 101)


def test_describe_repositories_with_own_registry_id(ecr, repo):
    found = ecr.describe_repositories(registryId=ACCOUNT_ID, repositoryNames=[repo])["repositories"]
    assert [(r["registryId"], r["repositoryName"]) for r in found] == [(ACCOUNT_ID, repo)]


def test_describe_repositories_rejects_invalid_name(ecr, repo):
    expect_error("InvalidParameterException", ecr.describe_repositories,
                 repositoryNames=[f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/{repo}"])


def test_describe_repositories_lists_everything_without_names(ecr, repo_factory):
    names = {repo_factory() for _ in range(3)}
    listed = {r["repositoryName"] for r in ecr.get_paginator("describe_repositories").paginate().build_full_result()["repositories"]}
    assert names <= listed


def test_describe_repositories_paginates_without_duplicates_or_gaps(ecr, repo_factory):
    names = {repo_factory(f"p{i}") for i in range(7)}
    everything = [r["repositoryName"] for r in ecr.describe_repositories(maxResults=1000)["repositories"]]
    seen, token, pages = [], None, 0
    while True:
        kwargs = {"maxResults": 2} | ({"nextToken": token} if token else {})
        page = ecr.describe_repositories(**kwargs)
        pages += 1
        assert len(page["repositories"]) <= 2
        seen += [r["repositoryName"] for r in page["repositories"]]
        token = page.get("nextToken")
        if not token:
            break
        assert pages < 1000
    assert len(seen) == len(set(seen)), f"duplicates across pages: {seen}"
    assert names <= set(seen)
    assert sorted(seen) == sorted(everything)
    assert pages >= 4


def test_describe_repositories_default_page_is_at_most_100(ecr, repo_factory):
    total = len(ecr.describe_repositories(maxResults=1000)["repositories"])
    for i in range(max(0, 101 - total)):
        repo_factory(f"d{i}")
    first = ecr.describe_repositories()
    assert len(first["repositories"]) == 100
    assert first.get("nextToken"), "more than 100 repositories: the first default page says there are more"


def test_describe_repositories_last_page_has_no_next_token(ecr, repo):
    page = ecr.describe_repositories(maxResults=1000)
    assert "nextToken" not in page
    assert repo in [r["repositoryName"] for r in page["repositories"]]


@pytest.mark.parametrize("max_results", [0, 1001, -1])
def test_describe_repositories_rejects_max_results_out_of_range(ecr_unvalidated, max_results):
    e = expect_error("InvalidParameterException", ecr_unvalidated.describe_repositories, maxResults=max_results)
    assert "maxResults" in e.response["Error"]["Message"]


def test_describe_repositories_rejects_next_token_with_names(ecr, repo_factory):
    repo_factory(), repo_factory(), repo_factory()
    token = ecr.describe_repositories(maxResults=1)["nextToken"]
    expect_error("InvalidParameterException", ecr.describe_repositories, repositoryNames=[repo_factory()],
                 nextToken=token)


def test_describe_repositories_rejects_max_results_with_names(ecr, repo):
    expect_error("InvalidParameterException", ecr.describe_repositories, repositoryNames=[repo], maxResults=5)


def test_describe_repositories_rejects_tampered_next_token(ecr, repo_factory):
    repo_factory(), repo_factory(), repo_factory()
    token = ecr.describe_repositories(maxResults=1)["nextToken"]
    for bad in tampered_tokens(token):
        expect_error("InvalidParameterException", ecr.describe_repositories, maxResults=1, nextToken=bad)


def test_describe_repositories_rejects_next_token_of_list_images(ecr, repo):
    for i in range(3):
        push_image(ecr, repo, f"t{i}")
    token = ecr.list_images(repositoryName=repo, maxResults=1)["nextToken"]
    expect_error("InvalidParameterException", ecr.describe_repositories, nextToken=token)


def test_describe_repositories_foreign_registry_id_reveals_nothing(server_factory):
    # A private server: a crash here must not take the session server down with it.
    server = server_factory.start()
    client = ecr_client(server.url, validate=False)
    client.create_repository(repositoryName="team/app")
    for body in ({"registryId": "999999999999"}, {"registryId": "999999999999", "repositoryNames": ["team/app"]}):
        try:
            r = ecr_raw(server.url, "DescribeRepositories", body)
        except requests.ConnectionError as e:
            raise AssertionError(f"berth dropped the connection answering DescribeRepositories {body}: {e}\n"
                                 f"{server.log_tail(5)}") from None
        assert server.proc.poll() is None, f"berth died answering DescribeRepositories {body}:\n{server.log_tail()}"
        assert r.status == 400 and r.error_type in ("AccessDeniedException", "RepositoryNotFoundException",
                                                    "InvalidParameterException"), (body, r.status, r.text)
    r = ecr_raw(server.url, "DescribeRepositories", {"registryId": "12345"})
    assert (r.status, r.error_type) == (400, "InvalidParameterException"), r.text
    assert [x["repositoryName"] for x in client.describe_repositories()["repositories"]] == ["team/app"]


# ---------------------------------------------------------------------------------------------
# DeleteRepository

def test_delete_repository_returns_repository_and_removes_it(ecr, repo_name):
    created = ecr.create_repository(repositoryName=repo_name)["repository"]
    deleted = ecr.delete_repository(repositoryName=repo_name)["repository"]
    assert deleted["repositoryArn"] == created["repositoryArn"]
    assert deleted["repositoryName"] == repo_name
    assert deleted["registryId"] == ACCOUNT_ID
    expect_error("RepositoryNotFoundException", ecr.describe_repositories, repositoryNames=[repo_name])


def test_delete_repository_missing(ecr):
    name = f"api/missing-{unique()}"
    e = expect_error("RepositoryNotFoundException", ecr.delete_repository, repositoryName=name)
    assert name in e.response["Error"]["Message"]


def test_delete_repository_not_empty_without_force(ecr, repo):
    image = push_image(ecr, repo, "v1")
    expect_error("RepositoryNotEmptyException", ecr.delete_repository, repositoryName=repo)
    ids = ecr.list_images(repositoryName=repo)["imageIds"]
    assert ids == [{"imageDigest": image.digest, "imageTag": "v1"}]


def test_delete_repository_force_removes_images_and_tags(ecr, repo_name):
    arn = ecr.create_repository(repositoryName=repo_name, tags=[{"Key": "k", "Value": "v"}])["repository"]["repositoryArn"]
    push_image(ecr, repo_name, "v1")
    push_image(ecr, repo_name)
    ecr.delete_repository(repositoryName=repo_name, force=True)
    expect_error("RepositoryNotFoundException", ecr.list_images, repositoryName=repo_name)
    ecr.create_repository(repositoryName=repo_name)
    assert ecr.list_images(repositoryName=repo_name)["imageIds"] == []
    assert ecr.list_tags_for_resource(resourceArn=arn)["tags"] == []


def test_delete_repository_rejects_invalid_name(ecr):
    expect_error("InvalidParameterException", ecr.delete_repository, repositoryName="Not/Valid")


# ---------------------------------------------------------------------------------------------
# PutImageTagMutability

def test_put_image_tag_mutability_updates_setting(ecr, repo):
    r = ecr.put_image_tag_mutability(repositoryName=repo, imageTagMutability="IMMUTABLE")
    assert (r["registryId"], r["repositoryName"], r["imageTagMutability"]) == (ACCOUNT_ID, repo, "IMMUTABLE")
    assert ecr.describe_repositories(repositoryNames=[repo])["repositories"][0]["imageTagMutability"] == "IMMUTABLE"
    r = ecr.put_image_tag_mutability(repositoryName=repo, imageTagMutability="MUTABLE")
    assert r["imageTagMutability"] == "MUTABLE"
    assert ecr.describe_repositories(repositoryNames=[repo])["repositories"][0]["imageTagMutability"] == "MUTABLE"


def test_put_image_tag_mutability_affects_future_pushes_only(ecr, repo):
    first = push_image(ecr, repo, "v1")
    ecr.put_image_tag_mutability(repositoryName=repo, imageTagMutability="IMMUTABLE")
    assert ecr.list_images(repositoryName=repo)["imageIds"] == [{"imageDigest": first.digest, "imageTag": "v1"}]
    expect_error("ImageTagAlreadyExistsException", push_image, ecr, repo, "v1")
    ecr.put_image_tag_mutability(repositoryName=repo, imageTagMutability="MUTABLE")
    second = push_image(ecr, repo, "v1")
    tagged = ecr.list_images(repositoryName=repo, filter={"tagStatus": "TAGGED"})["imageIds"]
    assert tagged == [{"imageDigest": second.digest, "imageTag": "v1"}]


def test_put_image_tag_mutability_rejects_bad_enum(ecr, repo):
    e = expect_error("InvalidParameterException", ecr.put_image_tag_mutability, repositoryName=repo,
                     imageTagMutability="immutable")
    assert "imageTagMutability" in e.response["Error"]["Message"]
    assert ecr.describe_repositories(repositoryNames=[repo])["repositories"][0]["imageTagMutability"] == "MUTABLE"


def test_put_image_tag_mutability_missing_repository(ecr):
    expect_error("RepositoryNotFoundException", ecr.put_image_tag_mutability,
                 repositoryName=f"api/missing-{unique()}", imageTagMutability="IMMUTABLE")


def test_put_image_tag_mutability_with_exclusion_filters(berth, ecr, repo):
    filters = [{"filterType": "WILDCARD", "filter": "dev-*"}]
    r = ecr_raw(berth.url, "PutImageTagMutability", {"repositoryName": repo,
                                                     "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
                                                     "imageTagMutabilityExclusionFilters": filters})
    assert r.status == 200, r.text
    assert r.body["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert r.body["imageTagMutabilityExclusionFilters"] == filters
    push_image(ecr, repo, "dev-1")
    push_image(ecr, repo, "dev-1")   # excluded: stays mutable
    push_image(ecr, repo, "v1")
    expect_error("ImageTagAlreadyExistsException", push_image, ecr, repo, "v1")


# ---------------------------------------------------------------------------------------------
# PutImageScanningConfiguration

def test_put_image_scanning_configuration_updates_setting(ecr, repo):
    r = ecr.put_image_scanning_configuration(repositoryName=repo, imageScanningConfiguration={"scanOnPush": True})
    assert (r["registryId"], r["repositoryName"]) == (ACCOUNT_ID, repo)
    assert r["imageScanningConfiguration"] == {"scanOnPush": True}
    described = ecr.describe_repositories(repositoryNames=[repo])["repositories"][0]
    assert described["imageScanningConfiguration"] == {"scanOnPush": True}
    ecr.put_image_scanning_configuration(repositoryName=repo, imageScanningConfiguration={"scanOnPush": False})
    described = ecr.describe_repositories(repositoryNames=[repo])["repositories"][0]
    assert described["imageScanningConfiguration"] == {"scanOnPush": False}


def test_put_image_scanning_configuration_missing_repository(ecr):
    expect_error("RepositoryNotFoundException", ecr.put_image_scanning_configuration,
                 repositoryName=f"api/missing-{unique()}", imageScanningConfiguration={"scanOnPush": True})


def test_put_image_scanning_configuration_requires_configuration(ecr_unvalidated, repo):
    expect_error("InvalidParameterException", ecr_unvalidated.put_image_scanning_configuration, repositoryName=repo)

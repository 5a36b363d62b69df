"""IAM-style policies: identity policies of users (inline and AWS managed, attached with
``berth admin user policy``) and of the groups they are in (``berth admin group``), repository and registry policies (ECR's Set/Get/DeleteRepositoryPolicy
and Put/Get/DeleteRegistryPolicy), evaluated with AWS's logic for both /v2 and ECR: explicit deny
wins, within an account an identity or a resource policy allow suffices, across accounts both
must allow. Every refused call leaves the registry as it was.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from ecr_content import OCI_MANIFEST, make_image, push_image, sha256
from ecr_support import (ACCOUNT_ID, OTHER_ACCOUNT_ID, REGION, AccessKey, BerthServer, V2, ecr_client,
                         expect_error, registry_password, unique, wait_until)

READ_ONLY = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"
PUSH_ACTIONS = ["ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
                "ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:BatchGetImage"]
PULL_ACTIONS = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]


def doc(*statements) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture(scope="module")
def server(module_server_factory) -> BerthServer:
    s = module_server_factory.start()
    s.admin("account", "create", "--id", OTHER_ACCOUNT_ID, "--name", "other")
    return s


def user_key(server: BerthServer, account: str, name: str) -> AccessKey:
    server.admin("user", "create", "--account", account, "--name", name)
    return server.create_key(account, name)


def put_inline(server: BerthServer, tmp_path: Path, account: str, user: str, name: str, text: str):
    f = tmp_path / f"{user}-{name}.json"
    f.write_text(text)
    return server.admin("user", "policy", "put", "--account", account, user, name, str(f))


def v2_push(v2: V2, repo: str, tag: str, host: str | None = None):
    """Pushes a one-layer image through /v2 (monolithic blob uploads, then the manifest); returns
    the first refusal's response, or the manifest PUT's."""
    image = make_image()
    headers = {"Host": host} if host else {}
    for blob in image.blobs:
        r = v2.request("POST", f"/v2/{repo}/blobs/uploads/?digest={sha256(blob)}", headers, data=blob)
        if r.status_code != 201:
            return r
    return v2.request("PUT", f"/v2/{repo}/manifests/{tag}", {**headers, "Content-Type": OCI_MANIFEST},
                      data=image.manifest)


def images(admin, repo: str) -> list:
    return sorted((i["imageDigest"], i.get("imageTag", "")) for i in admin.list_images(repositoryName=repo)["imageIds"])


def test_policy_ci_pushes_only_where_its_inline_policy_allows(server, tmp_path):
    admin = ecr_client(server.url)
    app, other = f"app/{unique()}", f"other/{unique()}"
    for name in (app, other):
        admin.create_repository(repositoryName=name)
    name = f"ci-{unique()}"
    key = user_key(server, ACCOUNT_ID, name)
    put_inline(server, tmp_path, ACCOUNT_ID, name, "push-app", doc(
        {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {"Effect": "Allow", "Action": PUSH_ACTIONS, "Resource": f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/app/*"}))
    ci = ecr_client(server.url, key)
    v2 = V2(server.url, registry_password(ci))

    r = v2_push(v2, app, "v1")
    assert r.status_code == 201, r.text
    assert images(admin, app) != []

    before = images(admin, other)
    r = v2_push(v2, other, "v1")
    assert r.status_code == 403, r.text
    assert r.json()["errors"][0]["code"] == "DENIED"
    assert "ecr:CompleteLayerUpload" in r.text or "ecr:InitiateLayerUpload" in r.text, r.text
    e = expect_error("AccessDeniedException", ci.initiate_layer_upload, repositoryName=other)
    assert f"arn:aws:iam::{ACCOUNT_ID}:user/{name}" in e.response["Error"]["Message"]
    expect_error("AccessDeniedException", ci.describe_repositories)
    assert images(admin, other) == before == []
    layers = admin.batch_check_layer_availability(repositoryName=other, layerDigests=[sha256(b"x")])
    assert layers["failures"] or all(l["layerAvailability"] != "AVAILABLE" for l in layers["layers"])


def test_policy_variable_gives_each_user_their_own_namespace(server, tmp_path):
    """One policy text for many users: ${aws:username} in the Resource is each caller's own name,
    so every user pushes under <name>/ and nowhere else."""
    admin = ecr_client(server.url)
    alice, bob = f"alice-{unique()}", f"bob-{unique()}"
    own = doc({"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
              {"Effect": "Allow", "Action": PUSH_ACTIONS,
               "Resource": f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/${{aws:username}}/*"})
    clients = {}
    for name in (alice, bob):
        admin.create_repository(repositoryName=f"{name}/app")
        key = user_key(server, ACCOUNT_ID, name)
        put_inline(server, tmp_path, ACCOUNT_ID, name, "own-namespace", own)
        clients[name] = ecr_client(server.url, key)

    v2 = V2(server.url, registry_password(clients[alice]))
    r = v2_push(v2, f"{alice}/app", "v1")
    assert r.status_code == 201, r.text
    r = v2_push(v2, f"{bob}/app", "v1")
    assert r.status_code == 403, r.text
    assert images(admin, f"{bob}/app") == []
    expect_error("AccessDeniedException", clients[bob].initiate_layer_upload, repositoryName=f"{alice}/app")
    assert clients[bob].initiate_layer_upload(repositoryName=f"{bob}/app")["uploadId"]


def test_policy_request_tags_on_create_and_tag_keys_on_untag(server, tmp_path):
    """aws:RequestTag/<k> and aws:TagKeys: a user may create repositories only with a team tag of a
    known value and no other tag keys, and may untag anything but the "protected" key."""
    name = f"maker-{unique()}"
    key = user_key(server, ACCOUNT_ID, name)
    arn_all = f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/*"
    put_inline(server, tmp_path, ACCOUNT_ID, name, "tagged-create", doc(
        {"Effect": "Allow", "Action": "ecr:CreateRepository", "Resource": "*",
         "Condition": {"StringEquals": {"aws:RequestTag/team": ["platform", "data"]},
                       "ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env"]}}},
        {"Effect": "Allow", "Action": ["ecr:UntagResource", "ecr:ListTagsForResource"], "Resource": arn_all},
        {"Effect": "Deny", "Action": "ecr:UntagResource", "Resource": arn_all,
         "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": "protected"}}}))
    maker = ecr_client(server.url, key)
    admin = ecr_client(server.url)

    untagged = f"made/{unique()}"
    expect_error("AccessDeniedException", maker.create_repository, repositoryName=untagged)
    expect_error("AccessDeniedException", maker.create_repository, repositoryName=untagged,
                 tags=[{"Key": "team", "Value": "sales"}])
    expect_error("AccessDeniedException", maker.create_repository, repositoryName=untagged,
                 tags=[{"Key": "team", "Value": "data"}, {"Key": "owner", "Value": "me"}])
    assert untagged not in [r["repositoryName"] for r in admin.describe_repositories()["repositories"]]
    made = maker.create_repository(repositoryName=untagged, tags=[
        {"Key": "team", "Value": "data"}, {"Key": "env", "Value": "prod"}])["repository"]
    arn = made["repositoryArn"]
    admin.tag_resource(resourceArn=arn, tags=[{"Key": "protected", "Value": "yes"}])

    expect_error("AccessDeniedException", maker.untag_resource, resourceArn=arn, tagKeys=["env", "protected"])
    assert len(maker.list_tags_for_resource(resourceArn=arn)["tags"]) == 3
    maker.untag_resource(resourceArn=arn, tagKeys=["env"])
    assert sorted(t["Key"] for t in maker.list_tags_for_resource(resourceArn=arn)["tags"]) == ["protected", "team"]


def test_policy_tag_operations_are_judged_on_the_arns_repository(server, tmp_path):
    """TagResource, UntagResource and ListTagsForResource name their repository by ARN; a policy
    scoped to repositories applies to that repository (not to "*"), both ways."""
    admin = ecr_client(server.url)
    app, prod = f"app/{unique()}", f"prod/{unique()}"
    arns = {n: admin.create_repository(repositoryName=n)["repository"]["repositoryArn"] for n in (app, prod)}
    name = f"tagger-{unique()}"
    key = user_key(server, ACCOUNT_ID, name)
    put_inline(server, tmp_path, ACCOUNT_ID, name, "tag-app", doc(
        {"Effect": "Allow", "Action": ["ecr:TagResource", "ecr:ListTagsForResource"],
         "Resource": f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/app/*"}))
    tagger = ecr_client(server.url, key)
    tagger.tag_resource(resourceArn=arns[app], tags=[{"Key": "k", "Value": "v"}])
    assert tagger.list_tags_for_resource(resourceArn=arns[app])["tags"] == [{"Key": "k", "Value": "v"}]
    e = expect_error("AccessDeniedException", tagger.tag_resource, resourceArn=arns[prod],
                     tags=[{"Key": "k", "Value": "v"}])
    assert f"repository/{prod}" in e.response["Error"]["Message"]
    assert admin.list_tags_for_resource(resourceArn=arns[prod])["tags"] == []

    wide = f"wide-{unique()}"
    key = user_key(server, ACCOUNT_ID, wide)
    put_inline(server, tmp_path, ACCOUNT_ID, wide, "tag-all-but-prod", doc(
        {"Effect": "Allow", "Action": "ecr:TagResource", "Resource": "*"},
        {"Effect": "Deny", "Action": "ecr:TagResource",
         "Resource": f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/prod/*"}))
    wide_client = ecr_client(server.url, key)
    expect_error("AccessDeniedException", wide_client.tag_resource, resourceArn=arns[prod],
                 tags=[{"Key": "k", "Value": "v"}])
    assert admin.list_tags_for_resource(resourceArn=arns[prod])["tags"] == []
    wide_client.tag_resource(resourceArn=arns[app], tags=[{"Key": "k2", "Value": "v"}])


def test_policy_deploy_with_managed_read_only_pulls_and_cannot_push(server):
    admin = ecr_client(server.url)
    repo = f"svc/{unique()}"
    admin.create_repository(repositoryName=repo)
    image = push_image(admin, repo, "v1")
    name = f"deploy-{unique()}"
    key = user_key(server, ACCOUNT_ID, name)
    deploy = ecr_client(server.url, key)
    expect_error("AccessDeniedException", deploy.get_authorization_token)  # nothing attached yet

    server.admin("user", "policy", "attach", "--account", ACCOUNT_ID, name, READ_ONLY)
    assert READ_ONLY in server.admin("user", "policy", "list", "--account", ACCOUNT_ID, name).stdout
    v2 = V2(server.url, registry_password(deploy))
    r = v2.request("GET", f"/v2/{repo}/manifests/v1", {"Accept": OCI_MANIFEST})
    assert r.status_code == 200 and r.content == image.manifest
    r = v2.request("GET", f"/v2/{repo}/blobs/{image.layer_digests[0]}")
    assert r.status_code == 200
    got = deploy.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "v1"}])
    assert got["images"][0]["imageId"]["imageDigest"] == image.digest

    before = images(admin, repo)
    r = v2_push(v2, repo, "v2")
    assert r.status_code == 403 and r.json()["errors"][0]["code"] == "DENIED", r.text
    expect_error("AccessDeniedException", deploy.put_image, repositoryName=repo,
                 imageManifest=image.manifest.decode(), imageTag="v2")
    expect_error("AccessDeniedException", deploy.batch_delete_image, repositoryName=repo,
                 imageIds=[{"imageTag": "v1"}])
    assert images(admin, repo) == before

    server.admin("user", "policy", "detach", "--account", ACCOUNT_ID, name, READ_ONLY)
    expect_error("AccessDeniedException", deploy.batch_get_image, repositoryName=repo, imageIds=[{"imageTag": "v1"}])


def test_policy_explicit_deny_beats_allow(server, tmp_path):
    admin = ecr_client(server.url)
    repo, guarded = f"d/{unique()}", f"d/{unique()}"
    for name in (repo, guarded):
        admin.create_repository(repositoryName=name)
        push_image(admin, name, "v1")
    name = f"dev-{unique()}"
    key = user_key(server, ACCOUNT_ID, name)
    put_inline(server, tmp_path, ACCOUNT_ID, name, "all", doc({"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}))
    put_inline(server, tmp_path, ACCOUNT_ID, name, "no-delete", doc(
        {"Effect": "Deny", "Action": "ecr:BatchDeleteImage", "Resource": "*"}))
    dev = ecr_client(server.url, key)
    before = images(admin, repo)
    e = expect_error("AccessDeniedException", dev.batch_delete_image, repositoryName=repo, imageIds=[{"imageTag": "v1"}])
    assert "explicit deny" in e.response["Error"]["Message"]
    assert images(admin, repo) == before

    # A Deny in the repository policy beats the user's own Allow, on both APIs.
    admin.set_repository_policy(repositoryName=guarded, policyText=doc(
        {"Sid": "NoPull", "Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:user/{name}"},
         "Action": "ecr:BatchGetImage"}))
    expect_error("AccessDeniedException", dev.batch_get_image, repositoryName=guarded, imageIds=[{"imageTag": "v1"}])
    v2 = V2(server.url, registry_password(dev))
    assert v2.request("GET", f"/v2/{guarded}/manifests/v1", {"Accept": OCI_MANIFEST}).status_code == 403
    assert v2.request("GET", f"/v2/{repo}/manifests/v1", {"Accept": OCI_MANIFEST}).status_code == 200
    server.admin("user", "policy", "delete", "--account", ACCOUNT_ID, name, "no-delete")
    dev.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "v1"}])
    assert images(admin, repo) == []


def test_policy_repository_policy_grants_another_accounts_user(server, tmp_path):
    admin = ecr_client(server.url)
    repo = f"shared/{unique()}"
    admin.create_repository(repositoryName=repo)
    image = push_image(admin, repo, "v1")
    name = f"puller-{unique()}"
    key = user_key(server, OTHER_ACCOUNT_ID, name)
    put_inline(server, tmp_path, OTHER_ACCOUNT_ID, name, "pull-anywhere", doc(
        {"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken", *PULL_ACTIONS], "Resource": "*"}))
    puller = ecr_client(server.url, key)
    v2 = V2(server.url, registry_password(puller))
    host = f"{ACCOUNT_ID}.dkr.ecr.{REGION}.localhost:{server.url.rsplit(':', 1)[1]}"

    def pull_v2():
        return v2.request("GET", f"/v2/{repo}/manifests/v1", {"Accept": OCI_MANIFEST, "Host": host})

    # Without a repository policy the other account's identity policy is not enough.
    expect_error("AccessDeniedException", puller.batch_get_image, registryId=ACCOUNT_ID, repositoryName=repo,
                 imageIds=[{"imageTag": "v1"}])
    r = pull_v2()
    assert r.status_code == 403 and r.json()["errors"][0]["code"] == "DENIED", r.text

    admin.set_repository_policy(repositoryName=repo, policyText=doc(
        {"Sid": "CrossAccountPull", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT_ID}:user/{name}"}, "Action": PULL_ACTIONS}))
    got = puller.batch_get_image(registryId=ACCOUNT_ID, repositoryName=repo, imageIds=[{"imageTag": "v1"}])
    assert got["images"][0]["imageId"]["imageDigest"] == image.digest
    r = pull_v2()
    assert r.status_code == 200 and r.content == image.manifest, r.text
    # The grant is for pulls: a push is still refused and changes nothing.
    before = images(admin, repo)
    r = v2_push(v2, repo, "evil", host=host)
    assert r.status_code == 403, r.text
    assert images(admin, repo) == before

    admin.delete_repository_policy(repositoryName=repo)
    expect_error("AccessDeniedException", puller.batch_get_image, registryId=ACCOUNT_ID, repositoryName=repo,
                 imageIds=[{"imageTag": "v1"}])


def test_repository_and_registry_policy_operations(server):
    admin = ecr_client(server.url)
    repo = f"ops/{unique()}"
    admin.create_repository(repositoryName=repo)
    expect_error("RepositoryPolicyNotFoundException", admin.get_repository_policy, repositoryName=repo)
    expect_error("RepositoryPolicyNotFoundException", admin.delete_repository_policy, repositoryName=repo)
    expect_error("RepositoryNotFoundException", admin.get_repository_policy, repositoryName=f"ops/{unique()}")
    e = expect_error("InvalidParameterException", admin.set_repository_policy, repositoryName=repo, policyText="{")
    assert "Invalid repository policy provided" in e.response["Error"]["Message"]
    e = expect_error("InvalidParameterException", admin.set_repository_policy, repositoryName=repo, policyText=doc(
        {"Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage",
         "Condition": {"StringEqualz": {"aws:username": "x"}}}))
    assert "Invalid Condition operator: StringEqualz" in e.response["Error"]["Message"]
    expect_error("InvalidParameterException", admin.set_repository_policy, repositoryName=repo,
                 policyText=doc({"Effect": "Allow", "Action": "ecr:BatchGetImage"}))  # no Principal
    expect_error("RepositoryPolicyNotFoundException", admin.get_repository_policy, repositoryName=repo)

    text = doc({"Sid": "Pull", "Effect": "Allow", "Principal": {"AWS": OTHER_ACCOUNT_ID}, "Action": PULL_ACTIONS})
    out = admin.set_repository_policy(repositoryName=repo, policyText=text)
    assert (out["registryId"], out["repositoryName"], out["policyText"]) == (ACCOUNT_ID, repo, text)
    assert admin.get_repository_policy(repositoryName=repo)["policyText"] == text

    lockout = doc({"Effect": "Deny", "Principal": "*", "Action": "ecr:SetRepositoryPolicy"})
    expect_error("InvalidParameterException", admin.set_repository_policy, repositoryName=repo, policyText=lockout)
    assert admin.get_repository_policy(repositoryName=repo)["policyText"] == text
    admin.set_repository_policy(repositoryName=repo, policyText=lockout, force=True)
    expect_error("AccessDeniedException", admin.set_repository_policy, repositoryName=repo, policyText=text)
    assert admin.delete_repository_policy(repositoryName=repo)["policyText"] == lockout
    expect_error("RepositoryPolicyNotFoundException", admin.get_repository_policy, repositoryName=repo)

    expect_error("RegistryPolicyNotFoundException", admin.get_registry_policy)
    expect_error("RegistryPolicyNotFoundException", admin.delete_registry_policy)
    expect_error("InvalidParameterException", admin.put_registry_policy, policyText="[]")
    reg = doc({"Sid": "Replicate", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT_ID}:root"},
               "Action": ["ecr:CreateRepository", "ecr:ReplicateImage"],
               "Resource": f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/*"})
    out = admin.put_registry_policy(policyText=reg)
    assert (out["registryId"], out["policyText"]) == (ACCOUNT_ID, reg)
    assert admin.get_registry_policy()["policyText"] == reg
    assert admin.delete_registry_policy()["policyText"] == reg
    expect_error("RegistryPolicyNotFoundException", admin.get_registry_policy)


def test_policy_admin_cli_refuses_bad_documents_and_unknown_arns(server, tmp_path):
    name = f"cli-{unique()}"
    user_key(server, ACCOUNT_ID, name)
    f = tmp_path / "bad.json"
    f.write_text(doc({"Effect": "Allow", "Principal": "*", "Action": "ecr:*", "Resource": "*"}))
    proc = server.admin("user", "policy", "put", "--account", ACCOUNT_ID, name, "p", str(f), check=False)
    assert proc.returncode != 0 and "should not specify a principal" in proc.stderr, proc.stderr
    proc = server.admin("user", "policy", "attach", "--account", ACCOUNT_ID, name,
                        "arn:aws:iam::aws:policy/AdministratorAccess", check=False)
    assert proc.returncode != 0 and "AmazonEC2ContainerRegistryReadOnly" in proc.stderr, proc.stderr
    proc = server.admin("user", "policy", "delete", "--account", ACCOUNT_ID, name, "p", check=False)
    assert proc.returncode != 0
    proc = server.admin("user", "policy", "list", "--account", ACCOUNT_ID, f"nobody-{unique()}", check=False)
    assert proc.returncode != 0 and "no user" in proc.stderr
    assert server.admin("user", "policy", "list", "--account", ACCOUNT_ID, name).stdout == ""


def test_policy_mount_without_from_finds_only_readable_blobs(server, tmp_path):
    admin = ecr_client(server.url)
    secret, mine = f"secret/{unique()}", f"app/{unique()}"
    for name in (secret, mine):
        admin.create_repository(repositoryName=name)
    image = push_image(admin, secret, "v1")
    name = f"ci-{unique()}"
    key = user_key(server, ACCOUNT_ID, name)
    put_inline(server, tmp_path, ACCOUNT_ID, name, "push-app", doc(
        {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {"Effect": "Allow", "Action": [*PUSH_ACTIONS, "ecr:GetDownloadUrlForLayer"],
         "Resource": f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/app/*"}))
    v2 = V2(server.url, registry_password(ecr_client(server.url, key)))
    layer = image.layer_digests[0]
    r = v2.request("POST", f"/v2/{mine}/blobs/uploads/?mount={layer}")
    assert r.status_code == 202, f"a blob of a repository the caller may not read was mounted: {r.status_code}"
    assert v2.request("HEAD", f"/v2/{mine}/blobs/{layer}").status_code == 404


def test_policy_group_deny_beats_members_own_allow_until_removed(server, tmp_path):
    """A user's identity policies include those of its groups: a Deny in group no-prod beats dev's
    own Allow on both APIs, only where it says, and stops binding once dev leaves the group."""
    admin = ecr_client(server.url)
    prod, dev_repo = f"prod/{unique()}", f"dev/{unique()}"
    for name in (prod, dev_repo):
        admin.create_repository(repositoryName=name)
        push_image(admin, name, "v1")
    name, group = f"dev-{unique()}", f"no-prod-{unique()}"
    key = user_key(server, ACCOUNT_ID, name)
    put_inline(server, tmp_path, ACCOUNT_ID, name, "all", doc({"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}))
    server.admin("group", "create", group)
    deny = tmp_path / "deny-prod.json"
    deny.write_text(doc({"Effect": "Deny", "Action": "ecr:*",
                         "Resource": f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/prod/*"}))
    server.admin("group", "policy", "put", group, "deny-prod", str(deny))
    assert "inline\tdeny-prod" in server.admin("group", "policy", "list", group).stdout
    server.admin("group", "add-user", group, name)
    assert f"{group}\t{name}" in server.admin("group", "list").stdout

    dev = ecr_client(server.url, key)
    v2 = V2(server.url, registry_password(dev))
    before = images(admin, prod)
    r = v2_push(v2, prod, "v2")
    assert r.status_code == 403 and r.json()["errors"][0]["code"] == "DENIED", r.text
    e = expect_error("AccessDeniedException", dev.batch_get_image, repositoryName=prod, imageIds=[{"imageTag": "v1"}])
    assert "explicit deny" in e.response["Error"]["Message"]
    assert images(admin, prod) == before
    r = v2_push(v2, dev_repo, "v2")
    assert r.status_code == 201, r.text
    assert dev.batch_get_image(repositoryName=dev_repo, imageIds=[{"imageTag": "v1"}])["images"]

    # A group with a member cannot go; one without members or policies can.
    refused = server.admin("group", "delete", group, check=False)
    assert refused.returncode != 0 and "must remove" in refused.stderr, refused.stderr

    server.admin("group", "remove-user", group, name)
    assert wait_until(lambda: v2_push(v2, prod, "v3").status_code == 201)
    assert dev.batch_get_image(repositoryName=prod, imageIds=[{"imageTag": "v1"}])["images"]
    server.admin("group", "policy", "delete", group, "deny-prod")
    server.admin("group", "delete", group)
    assert group not in server.admin("group", "list").stdout


def test_policy_user_delete_refuses_while_keys_or_policies_remain_unless_forced(server, tmp_path):
    admin = ecr_client(server.url)
    repo = f"del/{unique()}"
    admin.create_repository(repositoryName=repo)
    name = f"leaver-{unique()}"
    key = user_key(server, ACCOUNT_ID, name)
    put_inline(server, tmp_path, ACCOUNT_ID, name, "all", doc({"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}))
    leaver = ecr_client(server.url, key)
    assert leaver.describe_repositories(repositoryNames=[repo])["repositories"]

    refused = server.admin("user", "delete", name, check=False)
    assert refused.returncode != 0 and "access keys" in refused.stderr, refused.stderr
    assert name in server.admin("user", "list", "--account", ACCOUNT_ID).stdout
    server.admin("user", "delete", name, "--force")
    assert name not in server.admin("user", "list", "--account", ACCOUNT_ID).stdout
    assert key.access_key_id not in server.admin("key", "list").stdout

    def refused_now() -> bool:
        try:
            leaver.describe_repositories(repositoryNames=[repo])
            return False
        except ClientError:
            return True
    assert wait_until(refused_now)
    assert server.admin("user", "delete", name, check=False).returncode != 0

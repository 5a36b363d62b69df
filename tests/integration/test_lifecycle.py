"""Lifecycle policies: the ECR operations, validation of the rule language, previews, and the
background enforcement (``--lifecycle-interval``), which must remove exactly what the preview listed.

Enforcement tests run on a private server that evaluates policies every 2 s. Images are pushed in
groups at distinct wall-clock seconds, because ``imagePushedAt`` has one-second resolution and
``imageCountMoreThan`` orders by it. ``sinceImagePushed`` cannot be exercised for real without
waiting days; it is covered by a policy that must select nothing yet, and its positive cases by
the unit tests of the planner (tests/unit/lifecycle_plan_test.cc, images of given ages). Every
enforcement is also checked against ``berth admin expirations``.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time

import pytest
from botocore.exceptions import ClientError

from content import get_manifest, make_artifact, make_image, make_index, push_image, push_manifest, sha256
from ecr_helpers import (client_error_code, ecr_client, ecr_expect_error, ecr_ok, log_records, require_berth,
                         run_berth, start_server)
from harness import Registry, run_tool
from support.server import postgres_dsn_for

LIFECYCLE_INTERVAL = 2  # seconds, for the enforcement server
EXPIRED_MSG = "lifecycle expired an image"
SIGNATURE_TYPE = "application/vnd.dev.cosign.artifact.sig.v1+json"


@pytest.fixture(autouse=True)
def _berth_only():
    require_berth()


@pytest.fixture(scope="module")
def lc_server(module_server_factory):
    """A private berth evaluating lifecycle policies every LIFECYCLE_INTERVAL seconds."""
    return start_server(module_server_factory, "--lifecycle-interval", f"{LIFECYCLE_INTERVAL}s")


@pytest.fixture(scope="module")
def lc_registry(lc_server) -> Registry:
    return Registry(lc_server)


@pytest.fixture
def ecr(registry):
    return ecr_client(registry)


@pytest.fixture
def lc_ecr(lc_registry):
    return ecr_client(lc_registry)


# ---------------------------------------------------------------------------------------------
# Policy documents

def rule(priority, tag_status, count_type="imageCountMoreThan", count=1, prefixes=None, patterns=None,
         unit=None, description=None) -> dict:
    selection = {"tagStatus": tag_status}
    if prefixes is not None:
        selection["tagPrefixList"] = prefixes
    if patterns is not None:
        selection["tagPatternList"] = patterns
    selection["countType"] = count_type
    if unit is not None:
        selection["countUnit"] = unit
    selection["countNumber"] = count
    r = {"rulePriority": priority}
    if description:
        r["description"] = description
    r.update({"selection": selection, "action": {"type": "expire"}})
    return r


def policy(*rules) -> str:
    text = json.dumps({"rules": list(rules)})
    assert len(text) >= 100, "the API requires at least 100 characters; add a description"
    return text


# ---------------------------------------------------------------------------------------------
# Pushing images at distinct seconds

def next_second():
    """Sleep into the next wall-clock second, so the next push gets a later imagePushedAt."""
    now = time.time()
    time.sleep(int(now) + 1 - now + 0.05)


def small_image(**kw):
    return make_image(layers=1, layer_size=512, **kw)


def push(reg, repo, image, *tags):
    """Push ``image`` under its first tag (or by digest), then attach the other tags."""
    push_image(reg, repo, image, tags[0] if tags else None)
    for tag in tags[1:]:
        push_manifest(reg, repo, tag, image, expect=201)
    return image


def image_state(ecr, repo) -> dict[str, set[str]]:
    """ListImages as {digest: {tags}}, across all pages."""
    state: dict[str, set[str]] = {}
    for page in ecr.get_paginator("list_images").paginate(repositoryName=repo):
        for iid in page["imageIds"]:
            tags = state.setdefault(iid["imageDigest"], set())
            if "imageTag" in iid:
                tags.add(iid["imageTag"])
    return state


def pushed_at(ecr, repo) -> dict[str, float]:
    out = {}
    for page in ecr.get_paginator("describe_images").paginate(repositoryName=repo):
        for d in page["imageDetails"]:
            out[d["imageDigest"]] = d["imagePushedAt"].timestamp()
    return out


def assert_pushed_in_order(ecr, repo, *groups):
    """Precondition: each group of images was pushed at a later second than the previous group."""
    at = pushed_at(ecr, repo)
    for earlier, later in zip(groups, groups[1:]):
        assert max(at[i.digest] for i in earlier) < min(at[i.digest] for i in later), \
            f"push times are not ordered as the test needs: {at}"


# ---------------------------------------------------------------------------------------------
# Preview and enforcement

def preview(ecr, repo, text=None) -> dict[str, dict]:
    """Run a preview (of ``text`` or the stored policy) and return its results by digest."""
    kw = {"repositoryName": repo}
    if text is not None:
        kw["lifecyclePolicyText"] = text
    started = ecr.start_lifecycle_policy_preview(**kw)
    assert started["repositoryName"] == repo and started["status"] in ("IN_PROGRESS", "COMPLETE"), started
    if text is not None:
        assert started["lifecyclePolicyText"] == text
    deadline = time.monotonic() + 20
    while True:
        first = ecr.get_lifecycle_policy_preview(repositoryName=repo)
        if first["status"] != "IN_PROGRESS" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert first["status"] == "COMPLETE", first
    results = list(first["previewResults"])
    token = first.get("nextToken")
    while token:
        page = ecr.get_lifecycle_policy_preview(repositoryName=repo, nextToken=token)
        results += page["previewResults"]
        token = page.get("nextToken")
    by_digest = {r["imageDigest"]: r for r in results}
    assert len(by_digest) == len(results), f"an image appears twice in the preview: {results}"
    assert first["summary"]["expiringImageTotalCount"] == len(results), first["summary"]
    for r in results:
        assert r["action"] == {"type": "EXPIRE"}, r
    return by_digest


def expected_preview(ecr_state_before, *expected) -> dict:
    """{digest: (rule priority, sorted tags)} for the (image, priority) pairs a test expects to expire."""
    return {m.digest: (prio, sorted(ecr_state_before[m.digest])) for m, prio in expected}


def summarize(results: dict[str, dict]) -> dict:
    return {d: (r["appliedRulePriority"], sorted(r.get("imageTags", []))) for d, r in results.items()}


def last_evaluated(reg, repo):
    return ecr_ok(reg, "GetLifecyclePolicy", {"repositoryName": repo}).get("lastEvaluatedAt")


def wait_for_enforcement(reg, ecr, repo, expected_state: dict[str, set[str]], since: float,
                         timeout: float = 6 * LIFECYCLE_INTERVAL + 5):
    """Wait until an evaluation after ``since`` ran and the repository holds ``expected_state``;
    then wait for one more evaluation and check nothing else went."""
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        evaluated = last_evaluated(reg, repo)
        if evaluated is not None and evaluated > since:
            state = image_state(ecr, repo)
            if state == expected_state:
                break
        time.sleep(0.3)
    assert state == expected_state, (f"after enforcement the repository holds\n{state}\nexpected\n{expected_state}"
                                     f"\n(lastEvaluatedAt {last_evaluated(reg, repo)}, since {since})")
    settled = time.time()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not (last_evaluated(reg, repo) or 0) > settled + 1:
        time.sleep(0.3)
    assert (last_evaluated(reg, repo) or 0) > settled + 1, "no further lifecycle evaluation ran"
    assert image_state(ecr, repo) == expected_state, "a later evaluation removed more images"


def expirations_logged(server, repo) -> dict:
    out = {}
    for rec in log_records(server, EXPIRED_MSG):
        if rec.get("repository") == repo:
            assert rec["digest"] not in out, f"image expired twice: {rec}"
            out[rec["digest"]] = (rec["rule_priority"], sorted(rec.get("tags") or []))
    return out


def expirations_listed(server, repo) -> dict:
    """``berth admin expirations`` (README: every expiry is listed there) for one repository:
    {digest: (rule priority, sorted tags)}. Lines are ``time<TAB>repo<TAB>digest<TAB>tags|-<TAB>rule N``."""
    out = run_berth("admin", "--data-dir", str(server.data_dir), "expirations").stdout
    listed = {}
    for line in out.splitlines():
        fields = line.split("\t")
        assert len(fields) == 5 and fields[4].startswith("rule "), f"unexpected expirations line: {line!r}"
        if fields[1] != repo:
            continue
        assert fields[2] not in listed, f"an expiry is listed twice: {line!r}"
        tags = [] if fields[3] == "-" else sorted(fields[3].split(","))
        listed[fields[2]] = (int(fields[4].removeprefix("rule ")), tags)
    return listed


def put_policy_and_enforce(reg, ecr, server, repo, text, expected_removed: dict):
    """Preview ``text``, check it against ``expected_removed`` ({digest: (priority, tags)}), store
    the policy, wait for the background job, and check it removed exactly the preview's images."""
    before = image_state(ecr, repo)
    previewed = preview(ecr, repo, text)
    assert summarize(previewed) == expected_removed, "the preview does not select what the policy says"
    assert image_state(ecr, repo) == before, "a preview must not delete anything"

    since = time.time()
    stored = ecr.put_lifecycle_policy(repositoryName=repo, lifecyclePolicyText=text)
    assert stored["lifecyclePolicyText"] == text
    expected_after = {d: t for d, t in before.items() if d not in previewed}
    wait_for_enforcement(reg, ecr, repo, expected_after, since)
    assert expirations_logged(server, repo) == {d: v for d, v in expected_removed.items()}, \
        "the expirations logged differ from the preview"
    assert expirations_listed(server, repo) == expected_removed, \
        "berth admin expirations does not list what the lifecycle expired"
    for digest in previewed:
        assert get_manifest(reg, repo, digest).status_code == 404, f"{digest} expired but still served"
    return previewed


# ---------------------------------------------------------------------------------------------
# Operations and validation

def test_lifecycle_policy_put_get_delete_roundtrip(registry, repo, ecr):
    push(registry, repo, small_image(), "v1")
    text = policy(rule(1, "untagged", count=3, description="keep three untagged images"))

    with pytest.raises(ClientError) as info:
        ecr.get_lifecycle_policy(repositoryName=repo)
    assert client_error_code(info.value) == "LifecyclePolicyNotFoundException"

    out = ecr.put_lifecycle_policy(repositoryName=repo, lifecyclePolicyText=text)
    assert out["repositoryName"] == repo and out["lifecyclePolicyText"] == text and out["registryId"]
    got = ecr.get_lifecycle_policy(repositoryName=repo)
    assert got["lifecyclePolicyText"] == text and got["repositoryName"] == repo

    replacement = policy(rule(1, "tagged", prefixes=["v"], count=5, description="keep five v-tags"))
    ecr.put_lifecycle_policy(repositoryName=repo, lifecyclePolicyText=replacement)
    assert ecr.get_lifecycle_policy(repositoryName=repo)["lifecyclePolicyText"] == replacement

    deleted = ecr.delete_lifecycle_policy(repositoryName=repo)
    assert deleted["lifecyclePolicyText"] == replacement
    for call in (ecr.get_lifecycle_policy, ecr.delete_lifecycle_policy):
        with pytest.raises(ClientError) as info:
            call(repositoryName=repo)
        assert client_error_code(info.value) == "LifecyclePolicyNotFoundException"
    assert image_state(ecr, repo) != {}, "deleting a policy must not touch images"


def test_lifecycle_policy_goes_with_its_repository(registry, repo, ecr):
    ecr.create_repository(repositoryName=repo)
    ecr.put_lifecycle_policy(repositoryName=repo,
                             lifecyclePolicyText=policy(rule(1, "untagged", count=3, description="keep three")))
    ecr.delete_repository(repositoryName=repo, force=True)
    ecr.create_repository(repositoryName=repo)
    with pytest.raises(ClientError) as info:
        ecr.get_lifecycle_policy(repositoryName=repo)
    assert client_error_code(info.value) == "LifecyclePolicyNotFoundException"


def test_lifecycle_operations_on_unknown_repository(registry, repo):
    text = policy(rule(1, "untagged", count=3, description="keep three untagged images"))
    for op, extra in [("PutLifecyclePolicy", {"lifecyclePolicyText": text}), ("GetLifecyclePolicy", {}),
                      ("DeleteLifecyclePolicy", {}), ("StartLifecyclePolicyPreview", {"lifecyclePolicyText": text}),
                      ("GetLifecyclePolicyPreview", {})]:
        ecr_expect_error(registry, op, {"repositoryName": repo, **extra}, "RepositoryNotFoundException")


def test_lifecycle_preview_errors(registry, repo, ecr):
    push(registry, repo, small_image(), "v1")
    ecr_expect_error(registry, "GetLifecyclePolicyPreview", {"repositoryName": repo},
                     "LifecyclePolicyPreviewNotFoundException")
    # No text and no stored policy: nothing to preview.
    ecr_expect_error(registry, "StartLifecyclePolicyPreview", {"repositoryName": repo},
                     "LifecyclePolicyNotFoundException")
    ecr_expect_error(registry, "GetLifecyclePolicyPreview", {"repositoryName": repo},
                     "LifecyclePolicyPreviewNotFoundException")
    # Without text the stored policy is previewed.
    text = policy(rule(1, "tagged", prefixes=["v"], count=1, description="keep the newest v-tag"))
    ecr.put_lifecycle_policy(repositoryName=repo, lifecyclePolicyText=text)
    started = ecr.start_lifecycle_policy_preview(repositoryName=repo)
    assert started["lifecyclePolicyText"] == text
    assert preview(ecr, repo) == {}
    assert ecr.get_lifecycle_policy_preview(repositoryName=repo)["lifecyclePolicyText"] == text


def _bad(**selection_overrides):
    r = rule(1, "untagged", count=2, description="a rule that is wrong in one place only")
    for k, v in selection_overrides.items():
        if v is _DROP:
            r["selection"].pop(k, None)
        else:
            r["selection"][k] = v
    return r


_DROP = object()
_VALID = rule(1, "untagged", count=2, description="a rule that is wrong in one place only")

INVALID_POLICIES = {
    "not-json": "this is not a lifecycle policy at all, just some plain text that is longer than one hundred characters",
    "json-array": json.dumps([_VALID, {"padding": "x" * 60}]),
    "rules-missing": json.dumps({"rulez": [_VALID]}),
    "rules-not-a-list": json.dumps({"rules": _VALID}),
    "rules-empty": json.dumps({"rules": [], "padding-description": "x" * 80}),
    "selection-missing": json.dumps({"rules": [{k: v for k, v in _VALID.items() if k != "selection"}
                                               | {"description": "x" * 80}]}),
    "action-missing": json.dumps({"rules": [{k: v for k, v in _VALID.items() if k != "action"}]}),
    "priority-missing": json.dumps({"rules": [{k: v for k, v in _VALID.items() if k != "rulePriority"}]}),
    "priority-zero": json.dumps({"rules": [_VALID | {"rulePriority": 0}]}),
    "unknown-selection-member": json.dumps({"rules": [_bad(tagPrefix=["v"])]}),
    "unknown-rule-member": json.dumps({"rules": [_VALID | {"enabled": True}]}),
    "null-count-unit": json.dumps({"rules": [_bad(countUnit=None)]}),
    "upper-case-tag-status": json.dumps({"rules": [_bad(tagStatus="UNTAGGED")]}),
    "unknown-count-type": json.dumps({"rules": [_bad(countType="imageCountLessThan")]}),
    "count-unit-with-image-count": json.dumps({"rules": [_bad(countUnit="days")]}),
    "since-pushed-without-unit": json.dumps({"rules": [_bad(countType="sinceImagePushed")]}),
    "unknown-count-unit": json.dumps({"rules": [_bad(countType="sinceImagePushed", countUnit="hours")]}),
    "count-number-zero": json.dumps({"rules": [_bad(countNumber=0)]}),
    "count-number-fraction": json.dumps({"rules": [_bad(countNumber=1.5)]}),
    "count-number-string": json.dumps({"rules": [_bad(countNumber="3")]}),
    "count-number-missing": json.dumps({"rules": [_bad(countNumber=_DROP)]}),
    "tagged-without-tag-list": json.dumps({"rules": [_bad(tagStatus="tagged")]}),
    "tagged-with-both-lists": json.dumps({"rules": [_bad(tagStatus="tagged", tagPrefixList=["a"],
                                                         tagPatternList=["b*"])]}),
    "prefix-list-on-untagged": json.dumps({"rules": [_bad(tagPrefixList=["v"])]}),
    "pattern-list-on-any": json.dumps({"rules": [_bad(tagStatus="any", tagPatternList=["v*"])]}),
    "empty-prefix-list": json.dumps({"rules": [_bad(tagStatus="tagged", tagPrefixList=[])]}),
    "five-wildcards": json.dumps({"rules": [_bad(tagStatus="tagged", tagPatternList=["a*b*c*d*e*f"])]}),
    "unknown-action": json.dumps({"rules": [_VALID | {"action": {"type": "delete"}}]}),
    "duplicate-priority": policy(rule(1, "tagged", prefixes=["a"], count=1), rule(1, "tagged", prefixes=["b"], count=1)),
    "any-not-last": policy(rule(1, "any", count=5), rule(2, "tagged", prefixes=["b"], count=1)),
    "two-untagged-rules": policy(rule(1, "untagged", count=5), rule(2, "untagged", count=1)),
    "too-long": policy(rule(1, "untagged", count=2, description="x" * 30800)),
}


@pytest.mark.parametrize("name", sorted(INVALID_POLICIES))
def test_lifecycle_invalid_policy_is_rejected(registry, repo, name):
    text = INVALID_POLICIES[name]
    assert len(text) >= 100, f"{name}: keep test documents ≥ 100 characters so only the content is wrong"
    push(registry, repo, small_image(), "v1")
    body = ecr_expect_error(registry, "PutLifecyclePolicy", {"repositoryName": repo, "lifecyclePolicyText": text},
                            "InvalidParameterException")
    if name != "too-long":
        assert "Lifecycle policy validation failure" in body["message"], body
    ecr_expect_error(registry, "GetLifecyclePolicy", {"repositoryName": repo}, "LifecyclePolicyNotFoundException")
    ecr_expect_error(registry, "StartLifecyclePolicyPreview", {"repositoryName": repo, "lifecyclePolicyText": text},
                     "InvalidParameterException")


VALID_POLICIES = {
    "four-wildcards": policy(rule(1, "tagged", patterns=["*test*1*2*3", "test*1*2*3*"], count=1)),
    "sparse-priorities": policy(rule(10, "tagged", prefixes=["prod"], count=9999),
                                rule(20, "untagged", count_type="sinceImagePushed", unit="days", count=7),
                                rule(30, "any", count=100)),
    "several-prefixes": policy(rule(1, "tagged", prefixes=["release", "v"], count=3, description="keep 3")),
}


@pytest.mark.parametrize("name", sorted(VALID_POLICIES))
def test_lifecycle_valid_policy_is_stored_verbatim(registry, repo, ecr, name):
    push(registry, repo, small_image(), "v1")
    text = VALID_POLICIES[name]
    ecr.put_lifecycle_policy(repositoryName=repo, lifecyclePolicyText=text)
    assert ecr.get_lifecycle_policy(repositoryName=repo)["lifecyclePolicyText"] == text


def test_lifecycle_preview_pages_and_filters(registry, repo, ecr):
    tagged = [push(registry, repo, small_image(), f"t{i}") for i in range(3)]
    untagged = [push(registry, repo, small_image()) for _ in range(3)]
    full = preview(ecr, repo, policy(rule(1, "any", count=1, description="keep only the newest image")))
    assert len(full) == 5 and set(full) <= {m.digest for m in tagged + untagged}

    paged, token = [], None
    for _ in range(10):
        kw = {"repositoryName": repo, "maxResults": 2}
        if token:
            kw["nextToken"] = token
        page = ecr.get_lifecycle_policy_preview(**kw)
        assert len(page["previewResults"]) <= 2
        paged += [r["imageDigest"] for r in page["previewResults"]]
        token = page.get("nextToken")
        if not token:
            break
    assert sorted(paged) == sorted(full) and len(paged) == len(set(paged)), "paging lost or repeated results"

    only_untagged = ecr.get_lifecycle_policy_preview(repositoryName=repo, filter={"tagStatus": "UNTAGGED"})
    assert {r["imageDigest"] for r in only_untagged["previewResults"]} == \
        {d for d, r in full.items() if not r.get("imageTags")}
    only_tagged = ecr.get_lifecycle_policy_preview(repositoryName=repo, filter={"tagStatus": "TAGGED"})
    assert {r["imageDigest"] for r in only_tagged["previewResults"]} == \
        {d for d, r in full.items() if r.get("imageTags")}
    assert only_tagged["summary"]["expiringImageTotalCount"] == 5

    some = next(iter(full))
    by_id = ecr.get_lifecycle_policy_preview(repositoryName=repo, imageIds=[{"imageDigest": some}])
    assert [r["imageDigest"] for r in by_id["previewResults"]] == [some]


# ---------------------------------------------------------------------------------------------
# Enforcement equals preview

def test_lifecycle_enforcement_removes_exactly_the_preview(lc_server, lc_registry, lc_ecr, repo):
    """§5.6 example 6: claimed images still occupy slots in a later count rule."""
    reg = lc_registry
    r1 = push(reg, repo, small_image(), "release-1")
    next_second()
    s1 = push(reg, repo, small_image(), "sha-a")
    next_second()
    s2 = push(reg, repo, small_image(), "sha-b")
    next_second()
    s3 = push(reg, repo, small_image())
    next_second()
    r2 = push(reg, repo, small_image(), "release-2")
    assert_pushed_in_order(lc_ecr, repo, [r1], [s1], [s2], [s3], [r2])

    text = policy(rule(1, "tagged", prefixes=["release"], count=1), rule(2, "any", count=2))
    before = image_state(lc_ecr, repo)
    expected = expected_preview(before, (r1, 1), (s1, 2), (s2, 2))
    previewed = put_policy_and_enforce(reg, lc_ecr, lc_server, repo, text, expected)
    for r in previewed.values():
        assert r["imagePushedAt"].timestamp() > 0
    assert image_state(lc_ecr, repo) == {r2.digest: {"release-2"}, s3.digest: set()}
    assert lc_ecr.get_lifecycle_policy(repositoryName=repo).get("lastEvaluatedAt") is not None


def test_lifecycle_count_keeps_newest_images_and_they_still_pull(lc_server, lc_registry, lc_ecr, repo, tmp_path):
    reg = lc_registry
    latest = push(reg, repo, small_image(), "latest")
    next_second()
    builds = []
    for i in range(1, 5):
        tags = [f"build-{i}"] + (["nightly"] if i == 2 else [])   # an image goes with all its tags
        builds.append(push(reg, repo, small_image(), *tags))
        next_second()
    assert_pushed_in_order(lc_ecr, repo, [latest], *[[b] for b in builds])
    # Another tag for the oldest build does not make it new: imagePushedAt is the first push.
    push_manifest(reg, repo, "rebuilt", builds[0], expect=201)
    assert_pushed_in_order(lc_ecr, repo, [latest], *[[b] for b in builds])

    text = policy(rule(1, "tagged", prefixes=["build-"], count=2, description="keep the two newest builds"))
    before = image_state(lc_ecr, repo)
    assert before[builds[0].digest] == {"build-1", "rebuilt"}
    put_policy_and_enforce(reg, lc_ecr, lc_server, repo, text,
                           expected_preview(before, (builds[0], 1), (builds[1], 1)))
    assert image_state(lc_ecr, repo) == {latest.digest: {"latest"}, builds[2].digest: {"build-3"},
                                         builds[3].digest: {"build-4"}}

    for image, tag in [(latest, "latest"), (builds[2], "build-3"), (builds[3], "build-4")]:
        layout = tmp_path / "out"
        run_tool(["skopeo", "copy", "--retry-times", "0", *reg.skopeo_src_args(),
                  f"docker://{reg.host}/{repo}:{tag}", f"oci:{layout}:{tag}"])
        index = json.loads((layout / "index.json").read_text())
        desc = next(d for d in index["manifests"]
                    if d.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag)
        assert desc["digest"] == image.digest, f"{tag} came back with another manifest digest"
        for blob in image.blobs:
            path = layout / "blobs" / "sha256" / blob.digest.split(":")[1]
            assert path.exists() and sha256(path.read_bytes()) == blob.digest, f"{tag}: blob {blob.digest} damaged"


def test_lifecycle_tag_prefix_and_pattern_selection(lc_server, lc_registry, lc_ecr, repo):
    """§5.6 examples 3 and 4: patterns must match whole tags and all entries of a list must match
    some tag of the image; a prefix is a plain prefix (``v1`` selects ``v10``)."""
    reg = lc_registry
    a = push(reg, repo, small_image(), "prod-1", "build-eu")
    v_a = push(reg, repo, small_image(), "v1")
    next_second()
    b = push(reg, repo, small_image(), "prod-2")
    v_b = push(reg, repo, small_image(), "v10")
    next_second()
    c = push(reg, repo, small_image(), "prod-3", "x-eu")
    v_c = push(reg, repo, small_image(), "v1.2")
    next_second()
    d = push(reg, repo, small_image(), "dev-eu")
    v_d = push(reg, repo, small_image(), "v1.3")
    assert_pushed_in_order(lc_ecr, repo, [a, v_a], [b, v_b], [c, v_c], [d, v_d])
    before = image_state(lc_ecr, repo)

    prefix_v1 = policy(rule(1, "tagged", prefixes=["v1"], count=1, description="prefix v1, keep the newest"))
    assert summarize(preview(lc_ecr, repo, prefix_v1)) == expected_preview(before, (v_a, 1), (v_b, 1), (v_c, 1))
    pattern_v1 = policy(rule(1, "tagged", patterns=["v1.*"], count=1, description="pattern v1.*, keep the newest"))
    assert summarize(preview(lc_ecr, repo, pattern_v1)) == expected_preview(before, (v_c, 1))
    exact = policy(rule(1, "tagged", patterns=["v1"], count_type="imageCountMoreThan", count=1,
                        description="a pattern without wildcards is a whole tag"), rule(2, "untagged", count=1))
    assert summarize(preview(lc_ecr, repo, exact)) == {}

    both = policy(rule(1, "tagged", patterns=["prod*", "*-eu"], count=1), rule(2, "tagged", patterns=["v1.*"], count=1))
    put_policy_and_enforce(reg, lc_ecr, lc_server, repo, both, expected_preview(before, (a, 1), (v_c, 2)))
    assert set(image_state(lc_ecr, repo)) == {m.digest for m in (b, c, d, v_a, v_b, v_d)}


def test_lifecycle_untagged_rule_expires_old_untagged_images_only(lc_server, lc_registry, lc_ecr, repo):
    reg = lc_registry
    u1 = push(reg, repo, small_image())
    tagged_old = push(reg, repo, small_image(), "keep-me")
    next_second()
    moved_from = push(reg, repo, small_image(), "moving")
    next_second()
    u2 = push(reg, repo, small_image())
    next_second()
    moved_to = push(reg, repo, small_image(), "moving")   # moved_from becomes untagged, keeps its push time
    next_second()
    u3 = push(reg, repo, small_image())
    assert_pushed_in_order(lc_ecr, repo, [u1, tagged_old], [moved_from], [u2], [moved_to], [u3])
    before = image_state(lc_ecr, repo)
    assert before[moved_from.digest] == set()

    text = policy(rule(1, "untagged", count=1, description="keep only the newest untagged image"))
    put_policy_and_enforce(reg, lc_ecr, lc_server, repo, text,
                           expected_preview(before, (u1, 1), (moved_from, 1), (u2, 1)))
    assert image_state(lc_ecr, repo) == {tagged_old.digest: {"keep-me"}, moved_to.digest: {"moving"},
                                         u3.digest: set()}


def test_lifecycle_since_image_pushed_selects_nothing_young(lc_server, lc_registry, lc_ecr, repo):
    """Ages in days cannot be waited for here: a fresh repository under ``sinceImagePushed 1 day``
    must preview nothing, and enforcing it must remove nothing."""
    reg = lc_registry
    images = [push(reg, repo, small_image(), "v1"), push(reg, repo, small_image())]
    text = policy(rule(1, "any", count_type="sinceImagePushed", unit="days", count=1,
                       description="expire everything older than a day"))
    before = image_state(lc_ecr, repo)
    assert preview(lc_ecr, repo, text) == {}
    since = time.time()
    lc_ecr.put_lifecycle_policy(repositoryName=repo, lifecyclePolicyText=text)
    wait_for_enforcement(reg, lc_ecr, repo, before, since)
    assert expirations_logged(lc_server, repo) == {}
    assert expirations_listed(lc_server, repo) == {}
    assert set(before) == {i.digest for i in images}


def backdate_push(server, repo_digest: str, days: int) -> None:
    """Makes an image look pushed ``days`` earlier. berth has no test clock; the push time in the
    metadata database is the one clock-dependent fact an age rule reads, so moving it back is
    what waiting that many days would do. (Test-only reach into the SQLite store.)"""
    dsn = postgres_dsn_for(server.data_dir)
    if dsn:  # the metadata is in PostgreSQL (BERTH_TEST_METADATA=postgres)
        out = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", dsn, "-c",
                              f"UPDATE manifests SET pushed_at = pushed_at - {days * 86400 * 1000} "
                              f"WHERE digest = '{repo_digest}' RETURNING 1"],
                             capture_output=True, text=True, check=True, timeout=60).stdout
        changed = out.split().count("1")
    else:
        with sqlite3.connect(server.data_dir / "berth.db", timeout=30) as db:
            # pushed_at is kept in milliseconds since the epoch.
            changed = db.execute("UPDATE manifests SET pushed_at = pushed_at - ? WHERE digest = ?",
                                 (days * 86400 * 1000, repo_digest)).rowcount
    assert changed == 1, f"expected one manifest row for {repo_digest}, updated {changed}"


def test_lifecycle_since_image_pushed_expires_old_images(lc_server, lc_registry, lc_ecr, repo):
    """The positive case of an age rule, end to end: an image pushed three days ago (back-dated)
    is expired by ``sinceImagePushed 2 days``, a fresh one is kept, and the expiry is logged and
    listed by ``berth admin expirations``."""
    reg = lc_registry
    old = push(reg, repo, small_image(), "old-build")
    fresh = push(reg, repo, small_image(), "fresh-build")
    backdate_push(lc_server, old.digest, days=3)
    assert time.time() - pushed_at(lc_ecr, repo)[old.digest] > 2.5 * 86400, "the back-dating did not show"
    before = image_state(lc_ecr, repo)
    text = policy(rule(1, "any", count_type="sinceImagePushed", unit="days", count=2,
                       description="expire everything older than two days"))
    put_policy_and_enforce(reg, lc_ecr, lc_server, repo, text, expected_preview(before, (old, 1)))
    assert image_state(lc_ecr, repo) == {fresh.digest: {"fresh-build"}}


# ---------------------------------------------------------------------------------------------
# Indexes and referrers

def test_lifecycle_index_children_live_and_die_with_their_index(lc_server, lc_registry, lc_ecr, repo):
    reg = lc_registry
    u1 = push(reg, repo, small_image())
    next_second()
    c1, c2, shared = small_image(arch="amd64"), small_image(arch="arm64"), small_image(arch="s390x")
    i1 = push(reg, repo, make_index([c1, c2, shared]), "multi-1")
    next_second()
    c3, c4 = small_image(arch="amd64"), small_image(arch="arm64")
    i2 = push(reg, repo, make_index([c3, c4, shared]), "multi-2")   # shared is listed by both indexes
    next_second()
    u2 = push(reg, repo, small_image())
    assert_pushed_in_order(lc_ecr, repo, [u1], [c1, c2, i1], [c3, c4, i2], [u2])
    before = image_state(lc_ecr, repo)
    children = {c1.digest, c2.digest, c3.digest, c4.digest, shared.digest}
    assert children <= set(before), "children should be listed as images"

    # Children are untagged, but only the indexes decide about them: c3/c4 stay with multi-2,
    # c1/c2 go with multi-1 (carrying its rule priority), and shared stays while multi-2 lists it.
    text = policy(rule(1, "tagged", prefixes=["multi-"], count=1), rule(2, "untagged", count=1))
    put_policy_and_enforce(reg, lc_ecr, lc_server, repo, text,
                           expected_preview(before, (i1, 1), (c1, 1), (c2, 1), (u1, 2)))
    assert set(image_state(lc_ecr, repo)) == {i2.digest, c3.digest, c4.digest, shared.digest, u2.digest}
    for child in (c3, c4, shared):
        r = get_manifest(reg, repo, child.digest)
        assert r.status_code == 200 and r.content == child.body

    # Once the last index listing them is deleted, the children are ordinary untagged images,
    # and u2 is the newest of those. The stored policy is taken away first, so that the
    # background job cannot act between the delete and the checks; then it is put back.
    lc_ecr.delete_lifecycle_policy(repositoryName=repo)
    out = lc_ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "multi-2"}])
    assert out["failures"] == [], out
    after_delete = image_state(lc_ecr, repo)
    assert set(after_delete) == {c3.digest, c4.digest, shared.digest, u2.digest}
    assert summarize(preview(lc_ecr, repo, text)) == expected_preview(after_delete, (c3, 2), (c4, 2), (shared, 2))
    assert image_state(lc_ecr, repo) == after_delete
    since = time.time()
    lc_ecr.put_lifecycle_policy(repositoryName=repo, lifecyclePolicyText=text)
    wait_for_enforcement(reg, lc_ecr, repo, {u2.digest: set()}, since)
    logged = expirations_logged(lc_server, repo)
    assert {d: logged.get(d) for d in (c3.digest, c4.digest, shared.digest)} == \
        {c3.digest: (2, []), c4.digest: (2, []), shared.digest: (2, [])}
    listed = expirations_listed(lc_server, repo)
    assert listed == logged, "berth admin expirations and the log disagree"


def test_lifecycle_referrer_lives_and_dies_with_its_subject(lc_server, lc_registry, lc_ecr, repo):
    reg = lc_registry
    s1 = push(reg, repo, small_image(), "app-1")
    sig1 = push(reg, repo, make_artifact(artifact_type=SIGNATURE_TYPE, subject=s1))
    next_second()
    s2 = push(reg, repo, small_image(), "app-2")
    sig2 = push(reg, repo, make_artifact(artifact_type=SIGNATURE_TYPE, subject=s2))
    next_second()
    u1 = push(reg, repo, small_image())
    assert_pushed_in_order(lc_ecr, repo, [s1, sig1], [s2, sig2], [u1])
    before = image_state(lc_ecr, repo)

    # sig2 is untagged and older than u1, but its subject app-2 is kept, so it stays;
    # sig1 goes with app-1.
    text = policy(rule(1, "tagged", prefixes=["app-"], count=1), rule(2, "untagged", count=1))
    put_policy_and_enforce(reg, lc_ecr, lc_server, repo, text, expected_preview(before, (s1, 1), (sig1, 1)))
    assert set(image_state(lc_ecr, repo)) == {s2.digest, sig2.digest, u1.digest}
    referrers = reg.get(f"/v2/{repo}/referrers/{s2.digest}")
    assert referrers.status_code == 200
    assert [m["digest"] for m in referrers.json()["manifests"]] == [sig2.digest]
    r = get_manifest(reg, repo, sig2.digest)
    assert r.status_code == 200 and r.content == sig2.body

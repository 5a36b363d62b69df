"""The OCI 1.1 referrers API and the OCI-Subject acknowledgement on manifest PUT."""

import os

import pytest

from content import (OCI_INDEX, assert_error, describe, get_manifest, make_artifact, make_image,
                     make_index, media_type_of, parse_link_next, push_image, sha256)
from harness import distribution_gap

NO_REFERRERS = distribution_gap("2.8 has no referrers API and sends no OCI-Subject (distribution-spec 1.1)")

SBOM = "application/vnd.example.sbom.v1"
SIGNATURE = "application/vnd.example.signature.v1"
ATTESTATION_CONFIG = "application/vnd.example.attestation.config.v1+json"


@pytest.fixture
def subject_and_referrers(registry, repo):
    """An image tagged v1 and four manifests whose ``subject`` is that image:
    two artifacts with artifactType, one without (config type applies), one index without."""
    subject = make_image()
    push_image(registry, repo, subject, ref="v1")
    referrers = {
        "sbom": make_artifact(artifact_type=SBOM, subject=subject,
                              annotations={"org.example.sbom.format": "json",
                                           "org.opencontainers.image.created": "2024-01-01T00:00:00Z"}),
        "signature": make_artifact(artifact_type=SIGNATURE, subject=subject,
                                   annotations={"org.example.signature.fingerprint": "abcd"}),
        "attestation": make_artifact(config_media_type=ATTESTATION_CONFIG, config_data=b'{"predicate":1}',
                                     subject=subject),
        "index": make_index([make_image()], subject=subject, annotations={"org.example.kind": "bundle"}),
    }
    for manifest in referrers.values():
        push_image(registry, repo, manifest)
    return subject, referrers


def list_referrers(registry, repo, digest, **params):
    r = registry.get(f"/v2/{repo}/referrers/{digest}", params=params)
    assert r.status_code == 200, describe(r)
    assert media_type_of(r) == OCI_INDEX, describe(r)
    body = r.json()
    assert body.get("schemaVersion") == 2 and body.get("mediaType") == OCI_INDEX, body
    assert isinstance(body.get("manifests"), list), body
    return r, body["manifests"]


def by_digest(descriptors):
    found = {}
    for d in descriptors:
        assert d["digest"] not in found, f"duplicate referrer {d['digest']}"
        found[d["digest"]] = d
    return found


@NO_REFERRERS
def test_referrers_lists_every_manifest_with_the_subject(registry, repo, subject_and_referrers):
    subject, referrers = subject_and_referrers
    _, descriptors = list_referrers(registry, repo, subject.digest)
    found = by_digest(descriptors)
    assert set(found) == {m.digest for m in referrers.values()}
    for manifest in referrers.values():
        d = found[manifest.digest]
        assert d["mediaType"] == manifest.media_type, d
        assert d["size"] == manifest.size, d


@NO_REFERRERS
def test_referrers_descriptors_carry_artifact_type_and_annotations(registry, repo, subject_and_referrers):
    subject, referrers = subject_and_referrers
    found = by_digest(list_referrers(registry, repo, subject.digest)[1])
    sbom = found[referrers["sbom"].digest]
    assert sbom.get("artifactType") == SBOM, sbom
    assert sbom.get("annotations") == referrers["sbom"].json["annotations"], sbom
    assert found[referrers["signature"].digest].get("annotations") == {"org.example.signature.fingerprint": "abcd"}


@NO_REFERRERS
def test_referrers_artifact_type_falls_back_to_config_media_type(registry, repo, subject_and_referrers):
    subject, referrers = subject_and_referrers
    found = by_digest(list_referrers(registry, repo, subject.digest)[1])
    assert found[referrers["attestation"].digest].get("artifactType") == ATTESTATION_CONFIG


@NO_REFERRERS
def test_referrers_index_without_artifact_type_omits_it(registry, repo, subject_and_referrers):
    subject, referrers = subject_and_referrers
    found = by_digest(list_referrers(registry, repo, subject.digest)[1])
    d = found[referrers["index"].digest]
    assert d["mediaType"] == OCI_INDEX
    assert "artifactType" not in d or d["artifactType"] in ("", None), d
    assert d.get("annotations") == {"org.example.kind": "bundle"}, d


@NO_REFERRERS
def test_referrers_index_with_artifact_type_reports_it(registry, repo):
    subject = make_image()
    push_image(registry, repo, subject, ref="v1")
    bundle = make_index([make_image()], artifact_type="application/vnd.example.bundle.v1", subject=subject)
    push_image(registry, repo, bundle)
    (d,) = list_referrers(registry, repo, subject.digest)[1]
    assert d["digest"] == bundle.digest and d.get("artifactType") == "application/vnd.example.bundle.v1", d


@NO_REFERRERS
def test_referrers_many_referrers_are_all_listed_following_links(registry, repo):
    subject = make_image()
    push_image(registry, repo, subject, ref="v1")
    pushed = set()
    for i in range(40):
        referrer = make_artifact(artifact_type=SIGNATURE, subject=subject, annotations={"n": str(i)},
                                 layer_data=b"sig%d" % i)
        push_image(registry, repo, referrer)
        pushed.add(referrer.digest)
    seen, url = [], f"/v2/{repo}/referrers/{subject.digest}"
    for _ in range(50):
        r = registry.get(url)
        assert r.status_code == 200 and media_type_of(r) == OCI_INDEX, describe(r)
        seen += [d["digest"] for d in r.json()["manifests"]]
        nxt = parse_link_next(r)
        if not nxt:
            break
        url = nxt
    assert len(seen) == len(set(seen)) and set(seen) == pushed


@NO_REFERRERS
def test_referrers_artifact_type_filter_sets_filters_applied_header(registry, repo, subject_and_referrers):
    subject, referrers = subject_and_referrers
    r, descriptors = list_referrers(registry, repo, subject.digest, artifactType=SBOM)
    assert [d["digest"] for d in descriptors] == [referrers["sbom"].digest]
    applied = [f.strip() for f in r.headers.get("OCI-Filters-Applied", "").split(",")]
    assert "artifactType" in applied, describe(r)


@NO_REFERRERS
def test_referrers_filter_matching_nothing_returns_empty_index(registry, repo, subject_and_referrers):
    subject, _ = subject_and_referrers
    r, descriptors = list_referrers(registry, repo, subject.digest, artifactType="application/vnd.example.none")
    assert descriptors == []


@NO_REFERRERS
def test_referrers_without_referrers_returns_empty_index(registry, repo):
    lonely = make_image()
    push_image(registry, repo, lonely, ref="v1")
    _, descriptors = list_referrers(registry, repo, lonely.digest)
    assert descriptors == []


@NO_REFERRERS
def test_referrers_unknown_digest_returns_empty_index_not_404(registry, repo):
    push_image(registry, repo, make_image(), ref="v1")
    _, descriptors = list_referrers(registry, repo, sha256(os.urandom(16)))
    assert descriptors == []


@NO_REFERRERS
def test_referrers_invalid_digest_returns_400(registry, repo):
    push_image(registry, repo, make_image(), ref="v1")
    r = registry.get(f"/v2/{repo}/referrers/sha256:not-a-digest")
    assert r.status_code == 400, describe(r)


@NO_REFERRERS
def test_referrers_include_referrer_pushed_before_its_subject(registry, repo):
    subject = make_image()
    early = make_artifact(artifact_type=SIGNATURE, subject=subject)
    push_image(registry, repo, early)
    push_image(registry, repo, subject, ref="late")
    _, descriptors = list_referrers(registry, repo, subject.digest)
    assert [d["digest"] for d in descriptors] == [early.digest]


@NO_REFERRERS
def test_referrers_deleted_referrer_disappears(registry, repo, subject_and_referrers):
    subject, referrers = subject_and_referrers
    r = registry.delete(f"/v2/{repo}/manifests/{referrers['signature'].digest}")
    assert r.status_code == 202, describe(r)
    found = by_digest(list_referrers(registry, repo, subject.digest)[1])
    assert referrers["signature"].digest not in found
    assert referrers["sbom"].digest in found


@NO_REFERRERS
def test_referrers_are_scoped_to_the_repository(registry, repo, repo_factory, subject_and_referrers):
    subject, _ = subject_and_referrers
    other = repo_factory("other")
    push_image(registry, other, subject, ref="v1")
    _, descriptors = list_referrers(registry, other, subject.digest)
    assert descriptors == []


@NO_REFERRERS
def test_referrers_listed_digests_resolve_to_the_pushed_bytes(registry, repo, subject_and_referrers):
    subject, referrers = subject_and_referrers
    pushed = {m.digest: m for m in referrers.values()}
    for d in list_referrers(registry, repo, subject.digest)[1]:
        r = get_manifest(registry, repo, d["digest"])
        assert r.status_code == 200 and r.content == pushed[d["digest"]].body, describe(r)


@NO_REFERRERS
@pytest.mark.parametrize("kind", ["artifact", "image", "index"])
def test_referrers_put_with_subject_returns_oci_subject_header(registry, repo, kind):
    subject = make_image()
    push_image(registry, repo, subject, ref="v1")
    if kind == "artifact":
        referrer = make_artifact(artifact_type=SBOM, subject=subject)
    elif kind == "image":
        referrer = make_image(subject=subject)
    else:
        referrer = make_index([make_image()], subject=subject)
    r = push_image(registry, repo, referrer)
    assert r.headers.get("OCI-Subject") == subject.digest, describe(r)


def test_referrers_put_without_subject_sends_no_oci_subject_header(registry, repo):
    r = push_image(registry, repo, make_image(), ref="v1")
    assert "OCI-Subject" not in r.headers, describe(r)


@NO_REFERRERS
def test_referrers_unknown_repository_returns_empty_index_or_name_unknown(registry, repo):
    r = registry.get(f"/v2/{repo}/referrers/{sha256(b'x')}")
    if r.status_code == 200:
        assert media_type_of(r) == OCI_INDEX and r.json()["manifests"] == [], describe(r)
    else:
        assert_error(r, 404, "NAME_UNKNOWN")

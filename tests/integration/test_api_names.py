"""Repository name validation: the spec's grammar, nesting, and the 255-character limit."""

import pytest

from content import assert_error, describe, make_image, push_image, get_manifest, unique
from harness import distribution_gap

BAD_NAME_ROUTING = distribution_gap("routes a name outside the grammar to a plain 404 instead of NAME_INVALID")

BAD_NAMES = ["Upper/case", "bad..dots", "-leading-dash", "trailing-dash-", "under_-mixed", "trailing-dot./x",
             "x/.hidden", "a/b_", "sp%20ace", "tilde~name"]
GOOD_NAMES = ["a", "a__b/c---d/e.f", "0/1/2/3/4/5/6/7/8/9", "team/app/api", "x.y-z_w"]


@BAD_NAME_ROUTING
@pytest.mark.parametrize("name", BAD_NAMES)
def test_name_outside_grammar_returns_400_name_invalid_on_push(registry, name):
    assert_error(registry.post(f"/v2/{name}/blobs/uploads/"), 400, "NAME_INVALID")


@BAD_NAME_ROUTING
@pytest.mark.parametrize("name", BAD_NAMES[:4])
def test_name_outside_grammar_returns_400_name_invalid_on_pull(registry, name):
    assert_error(registry.get(f"/v2/{name}/tags/list"), 400, "NAME_INVALID")


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_name_inside_grammar_is_accepted(registry, name):
    repo = f"it/names-{unique()}/{name}"
    manifest = make_image()
    push_image(registry, repo, manifest, ref="v1")
    r = get_manifest(registry, repo, "v1")
    assert r.status_code == 200 and r.content == manifest.body, describe(r)


def _name_of_length(n: int) -> str:
    prefix = f"it/len-{unique()}/"
    return prefix + "a" * (n - len(prefix))


def test_name_of_255_characters_is_accepted(registry):
    repo = _name_of_length(255)
    assert len(repo) == 255
    manifest = make_image()
    push_image(registry, repo, manifest, ref="v1")
    assert get_manifest(registry, repo, "v1").status_code == 200


@distribution_gap("answers 500 UNKNOWN for a name over 255 characters")
@pytest.mark.parametrize("length", [256, 400])
def test_name_over_255_characters_returns_400_name_invalid(registry, length):
    repo = _name_of_length(length)
    assert_error(registry.post(f"/v2/{repo}/blobs/uploads/"), 400, "NAME_INVALID")

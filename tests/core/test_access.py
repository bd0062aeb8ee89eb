"""core.access: data roots (symlinks resolved), token and password hashes, the password file's checks."""

from __future__ import annotations

import pytest

from core.access import (OutsideRootsError, PasswordFileError, check_inside_roots, matches, new_token,
                         password_hash, read_password_file, session_proof, token_hash)


@pytest.fixture
def roots(tmp_path):
    data, cache, outside = tmp_path / "data", tmp_path / "cache", tmp_path / "outside"
    for folder in (data / "images", cache, outside):
        folder.mkdir(parents=True)
    return data, cache, outside


def test_paths_inside_a_root_resolve_and_pass(roots):
    data, cache, _ = roots
    assert check_inside_roots(data / "images", [data, cache]) == (data / "images").resolve()
    assert check_inside_roots(cache, [data, cache]) == cache.resolve()
    assert check_inside_roots(data / "new" / "labels.csv", [data]) == (data / "new" / "labels.csv").resolve()


@pytest.mark.parametrize("escape", ["outside", "link", "dotdot", "prefix", "etc"])
def test_a_path_outside_the_roots_is_refused_with_one_line_naming_them(roots, escape):
    data, cache, outside = roots
    (data / "link").symlink_to(outside)  # a symlink inside a root that points out of it
    (data.parent / "data-other").mkdir()  # shares the root's name as a prefix, is not under it
    path = {"outside": outside, "link": data / "link" / "x.png", "dotdot": data / ".." / "outside",
            "prefix": data.parent / "data-other", "etc": "/etc"}[escape]
    with pytest.raises(OutsideRootsError) as info:
        check_inside_roots(path, [data, cache])
    message = str(info.value)
    assert "\n" not in message and str(data.resolve()) in message and str(cache.resolve()) in message


def test_a_token_matches_its_hash_only():
    token = new_token()
    assert len(token) >= 40 and token != new_token()
    stored = token_hash(token)
    assert token not in stored and matches(token, stored)
    assert not matches(token[:-1], stored) and not matches("", stored) and not matches(token, "plain-text")


def test_a_password_hash_is_salted_scrypt_and_verifies(tmp_path):
    stored = password_hash("correct horse")
    assert stored.startswith("scrypt$") and "correct horse" not in stored and stored != password_hash("correct horse")
    assert matches("correct horse", stored) and not matches("correct hors", stored)


def test_the_password_file_must_be_readable_by_its_owner_only(tmp_path):
    file = tmp_path / "password"
    file.write_text(password_hash("s3cret") + "\n")
    file.chmod(0o600)
    assert matches("s3cret", read_password_file(file))
    for mode in (0o640, 0o604):
        file.chmod(mode)
        with pytest.raises(PasswordFileError, match="readable by others.*chmod 600"):
            read_password_file(file)


@pytest.mark.parametrize("content", ["s3cret", "sha256$abcd", "scrypt$16384$8$1$zz$00", ""])
def test_a_password_file_without_a_hash_is_refused(tmp_path, content):
    file = tmp_path / "password"
    file.write_text(content)
    file.chmod(0o600)
    with pytest.raises(PasswordFileError, match="does not hold a password hash"):
        read_password_file(file)


def test_a_missing_password_file_names_itself(tmp_path):
    with pytest.raises(PasswordFileError, match="--password-file .*nope"):
        read_password_file(tmp_path / "nope")


def test_the_session_cookie_reveals_no_secret_and_differs_per_secret():
    token, other = new_token(), new_token()
    proof = session_proof(token_hash(token))
    assert proof == session_proof(token_hash(token)) and proof != session_proof(token_hash(other))
    assert token not in proof and token_hash(token).split("$")[1] not in proof

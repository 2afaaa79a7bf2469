"""Two-factor sign-in, common passwords and sessions that end when credentials change.

The functions against SQLite (staff/two_factor.py, staff/passwords.py,
staff/auth.py), then the sign-in pages in a real console server
(tests/test_staff_web.py's fixture and client).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pyotp
import pytest

from clinic_core import storage
from staff import audit, auth, passwords, sessions, two_factor
from tests.test_staff_web import (  # noqa: F401 - the console fixture
    PASSWORD,
    SECOND_FACTORS,
    Client,
    Console,
    console,
    logged_in,
    totp_key,
)

NOW = datetime(2026, 12, 4, 12, 0, 0)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(sessions.SECRET_ENV, "s" * 40)
    url = f"sqlite:///{tmp_path / 'clinic.db'}"
    storage.migrate(url)
    auth.create_user(url, "nadia", PASSWORD, auth.ADMIN, actor=auth.SYSTEM)
    return url


def _at(secret: str, moment: datetime) -> str:
    seconds = (moment - datetime(1970, 1, 1)).total_seconds()
    return pyotp.TOTP(secret).at(seconds)


def enrol(url: str, login: str = "nadia") -> tuple[auth.User, str, list[str]]:
    user = next(u for u in auth.list_users(url, actor=auth.SYSTEM) if u.login == login)
    enrolment = two_factor.begin(url, user.id)
    user, codes = two_factor.confirm(url, user.id, _at(enrolment.secret, NOW), now=NOW)
    return user, enrolment.secret, codes


# --- the functions -------------------------------------------------------------------


def test_enrolment_needs_a_right_first_code_and_gives_ten_recovery_codes(project: str) -> None:
    user = auth.list_users(project, actor=auth.SYSTEM)[0]
    enrolment = two_factor.begin(project, user.id)
    assert enrolment.uri.startswith("otpauth://totp/") and "nadia" in enrolment.uri
    assert "<svg" in enrolment.qr_svg
    assert two_factor.begin(project, user.id).secret == enrolment.secret  # a reload: same key
    wrong = "000000" if _at(enrolment.secret, NOW) != "000000" else "111111"
    with pytest.raises(ValueError):
        two_factor.confirm(project, user.id, wrong, now=NOW)
    user, codes = two_factor.confirm(project, user.id, _at(enrolment.secret, NOW), now=NOW)
    assert user.two_factor and len(set(codes)) == 10
    assert all(re.fullmatch(r"[a-z2-9]{5}-[a-z2-9]{5}", code) for code in codes)


def test_a_code_works_once_and_only_near_its_time(project: str) -> None:
    user, secret, _ = enrol(project)
    later = NOW + timedelta(minutes=5)
    assert two_factor.verify(project, user.id, _at(secret, later), now=later) is not None
    assert two_factor.verify(project, user.id, _at(secret, later), now=later) is None  # replayed
    # The next step's code is accepted a little early (clock drift), not an older one.
    soon = later + timedelta(seconds=30)
    assert two_factor.verify(project, user.id, _at(secret, soon), now=later) is not None
    stale = later + timedelta(minutes=5)
    assert two_factor.verify(project, user.id, _at(secret, later), now=stale) is None


def test_a_recovery_code_works_once(project: str) -> None:
    user, _, codes = enrol(project)
    assert two_factor.verify(project, user.id, codes[0].upper(), now=NOW) is not None
    assert two_factor.verify(project, user.id, codes[0], now=NOW) is None
    assert two_factor.remaining_recovery_codes(project, user.id) == 9


def test_wrong_codes_lock_the_account_like_wrong_passwords(project: str) -> None:
    user, secret, _ = enrol(project)
    right = _at(secret, NOW + timedelta(minutes=1))
    wrong = "123456" if right != "123456" else "654321"
    for _ in range(auth.MAX_FAILED_LOGINS):
        assert two_factor.verify(project, user.id, wrong, now=NOW + timedelta(minutes=1)) is None
    locked = NOW + timedelta(minutes=1, seconds=5)
    assert two_factor.verify(project, user.id, right, now=locked) is None
    entries = audit.entries(project, login="nadia")
    assert any("wrong two-factor code; locked" in (entry.detail or "") for entry in entries)
    assert not any(right in (entry.detail or "") for entry in entries)  # no code in the audit


def test_changing_the_password_or_resetting_two_factor_ends_the_sessions(project: str) -> None:
    user = auth.list_users(project, actor=auth.SYSTEM)[0]
    token = sessions.issue_session(user)
    session = sessions.read_session(token)
    assert auth.current_user(project, session) is not None
    auth.set_password(project, "nadia", "plum whistle harbour", actor=auth.SYSTEM)
    assert auth.current_user(project, session) is None
    user = auth.list_users(project, actor=auth.SYSTEM)[0]
    session = sessions.read_session(sessions.issue_session(user))
    user, _, _ = enrol(project)  # turning it on ends the others too
    assert auth.current_user(project, session) is None
    session = sessions.read_session(sessions.issue_session(user))
    reset = two_factor.reset(project, "nadia", actor=auth.SYSTEM)
    assert auth.current_user(project, session) is None and not reset.two_factor


def test_only_admins_reset_someone_elses_second_factor(project: str) -> None:
    auth.create_user(project, "sam", PASSWORD, auth.STAFF, actor=auth.SYSTEM)
    sam = next(u for u in auth.list_users(project, actor=auth.SYSTEM) if u.login == "sam")
    with pytest.raises(PermissionError):
        two_factor.reset(project, "nadia", actor=sam)
    assert two_factor.required(auth.list_users(project, actor=auth.SYSTEM)[0])
    assert not two_factor.required(sam)


def test_a_pending_sign_in_is_signed_and_short_lived(monkeypatch: pytest.MonkeyPatch) -> None:
    user = auth.User(7, "nadia", auth.ADMIN, NOW, False, 0, None, session_epoch=3)
    token = two_factor.pending_token(user, two_factor.CODE, secret="k" * 40)
    assert two_factor.read_pending(token, secret="k" * 40) == two_factor.Pending(7, 3, "code")
    assert two_factor.read_pending(token, secret="x" * 40) is None
    forged = token.replace("7:3:code", "1:3:code")
    assert two_factor.read_pending(forged, secret="k" * 40) is None
    import itsdangerous.timed

    real_time = itsdangerous.timed.time.time
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real_time() + 301)
    assert two_factor.read_pending(token, secret="k" * 40) is None


@pytest.mark.parametrize(
    "password",
    [
        "Password2024!",
        "!!welcome123456",
        "qwertyuiop12",
        "123456789012",
        "aaaaaaaaaaaa",
        "abcabcabcabc",
        "Correct Horse Battery Staple",
        "iloveyou1234",
        "Botox2026botox",
    ],
)
def test_common_passwords_are_refused(password: str) -> None:
    assert passwords.weakness(password) is not None
    with pytest.raises(ValueError, match="too easy to guess"):
        auth.check_password_policy(password)


def test_a_password_holding_the_login_is_refused_and_good_ones_pass() -> None:
    assert passwords.weakness("frontdesk-summer-rain", "frontdesk") is not None
    for fine in ("mauve kettle drizzle", "plum whistle harbour", "tq8#Lm2vRz!pW4"):
        assert passwords.weakness(fine, "nadia") is None


def test_an_old_password_that_is_now_refused_still_logs_in(project: str) -> None:
    """The list applies to new passwords; an account is never locked out by it."""
    with storage.transaction(project) as db:
        from clinic_core.tables import StaffUser

        db.query(StaffUser).filter_by(login="nadia").one().password_hash = auth.hash_password(
            "password1234"
        )
    assert auth.authenticate(project, "nadia", "password1234") is not None


# --- the pages ------------------------------------------------------------------------


def test_an_admin_must_set_up_a_second_factor_before_the_console_opens(
    console: Console,  # noqa: F811
) -> None:
    auth.create_user(console.project_url, "newadmin", PASSWORD, auth.ADMIN, actor=auth.SYSTEM)
    client = Client(console.base)
    token = client.csrf("/login")
    reply = client.post("/login", {"csrf": token, "login": "newadmin", "password": PASSWORD})
    assert reply.status == 302 and reply.headers["Location"] == "/login/setup"
    assert sessions.COOKIE_NAME not in client.jar  # no session yet
    assert client.get("/").status == 302  # the console stays closed
    page = client.get("/login/setup")
    assert page.status == 200 and "<svg" in page.body and 'id="totp-key"' in page.body
    reply = client.post("/login/setup", {"csrf": token, "code": "000000"})
    assert reply.status == 401 and sessions.COOKIE_NAME not in client.jar
    reply = client.set_up_second_factor("newadmin")
    assert sessions.COOKIE_NAME in client.jar and client.get("/").status == 200
    assert len(SECOND_FACTORS[console.base, "newadmin"][1]) == 10


def test_with_two_factor_on_the_password_alone_opens_nothing(console: Console) -> None:  # noqa: F811
    logged_in(console, "admin")  # set up on an earlier login, or now
    client = Client(console.base)
    token = client.csrf("/login")
    reply = client.post("/login", {"csrf": token, "login": "admin", "password": PASSWORD})
    assert reply.headers["Location"] == "/login/code"
    assert client.get("/admin/users").status == 302
    assert client.post("/login/code", {"csrf": token, "code": "12345x"}).status == 401
    assert client.post("/login/code", {"csrf": "forged", "code": "123456"}).status == 403
    # A pending sign-in cookie forged for another account is worthless.
    client.jar[two_factor.PENDING_COOKIE] = "1:0:code.forged.sig"
    assert client.get("/login/code").status == 302
    fresh = Client(console.base)
    assert fresh.login("admin").status == 302 and fresh.get("/admin/users").status == 200


def test_staff_may_turn_it_on_and_then_need_it(console: Console) -> None:  # noqa: F811
    auth.create_user(console.project_url, "sara", PASSWORD, auth.STAFF, actor=auth.SYSTEM)
    client = logged_in(console, "sara")  # no second factor asked
    page = client.get("/account/two-factor")
    key = totp_key(page.body)
    other = logged_in(console, "sara")  # a second browser
    csrf = client.csrf("/account/two-factor")
    reply = client.post("/account/two-factor", {"csrf": csrf, "code": pyotp.TOTP(key).now()})
    assert reply.status == 200 and reply.body.count("<li><code>") == 10
    assert client.get("/").status == 200  # this browser goes on
    assert other.get("/").status == 302  # the other session ended
    again = Client(console.base)
    token = again.csrf("/login")
    reply = again.post("/login", {"csrf": token, "login": "sara", "password": PASSWORD})
    assert reply.headers["Location"] == "/login/code"


def test_an_admin_resets_a_lost_second_factor(console: Console) -> None:  # noqa: F811
    auth.create_user(console.project_url, "omar", PASSWORD, auth.ADMIN, actor=auth.SYSTEM)
    omar = Client(console.base)
    omar.login("omar")  # sets it up
    assert omar.get("/").status == 200
    admin = logged_in(console, "admin")
    csrf = admin.csrf("/admin/users")
    reply = admin.post("/admin/users/reset-two-factor", {"csrf": csrf, "login": "omar"})
    assert reply.status == 302
    assert omar.get("/").status == 302  # omar's session ended
    token = omar.csrf("/login")
    reply = omar.post("/login", {"csrf": token, "login": "omar", "password": PASSWORD})
    assert reply.headers["Location"] == "/login/setup"


def test_a_right_password_does_not_wipe_out_wrong_codes(project: str) -> None:
    """Guessing codes between password logins still ends in the lockout."""
    user, secret, _ = enrol(project)
    later = NOW + timedelta(minutes=1)
    wrong = "123456" if _at(secret, later) != "123456" else "654321"
    for _ in range(auth.MAX_FAILED_LOGINS - 1):
        assert two_factor.verify(project, user.id, wrong, now=later) is None
    assert auth.authenticate(project, "nadia", PASSWORD, now=later) is not None
    assert two_factor.verify(project, user.id, wrong, now=later) is None  # the fifth
    assert auth.authenticate(project, "nadia", PASSWORD, now=later) is None  # locked
    assert two_factor.verify(project, user.id, _at(secret, later), now=later) is None


def test_a_new_admin_signs_in_again_with_a_second_factor(project: str) -> None:
    auth.create_user(project, "sam", PASSWORD, auth.STAFF, actor=auth.SYSTEM)
    sam = next(u for u in auth.list_users(project, actor=auth.SYSTEM) if u.login == "sam")
    session = sessions.read_session(sessions.issue_session(sam))
    promoted = auth.set_role(project, "sam", auth.ADMIN, actor=auth.SYSTEM)
    assert auth.current_user(project, session) is None
    assert two_factor.required(promoted)


def test_a_setup_started_before_a_password_change_cannot_finish(project: str) -> None:
    user = auth.list_users(project, actor=auth.SYSTEM)[0]
    enrolment = two_factor.begin(project, user.id)
    auth.set_password(project, "nadia", "plum whistle harbour", actor=auth.SYSTEM)
    with pytest.raises(ValueError, match="changed"):
        two_factor.confirm(
            project, user.id, _at(enrolment.secret, NOW), now=NOW, epoch=user.session_epoch
        )


def test_a_second_click_on_turn_on_gets_a_page_not_an_error(console: Console) -> None:  # noqa: F811
    auth.create_user(console.project_url, "lena", PASSWORD, auth.ADMIN, actor=auth.SYSTEM)
    client = Client(console.base)
    token = client.csrf("/login")
    client.post("/login", {"csrf": token, "login": "lena", "password": PASSWORD})
    page = client.get("/login/setup")
    key = totp_key(page.body)
    code = pyotp.TOTP(key).now()
    both_clicks_carry = dict(client.jar)  # both requests leave with the same cookies
    first = client.post("/login/setup", {"csrf": token, "code": code})
    assert first.status == 200 and "recovery-codes" in first.body
    client.jar = dict(both_clicks_carry)
    assert client.post("/login/setup", {"csrf": token, "code": code}).status == 302
    assert client.get("/login/setup").status == 302


def test_a_code_given_after_the_account_changed_is_refused_and_not_spent(project: str) -> None:
    user, secret, codes = enrol(project)
    later = NOW + timedelta(minutes=1)
    before = user.session_epoch
    auth.set_password(project, "nadia", "plum whistle harbour", actor=auth.SYSTEM)
    assert two_factor.verify(project, user.id, codes[0], now=later, epoch=before) is None
    assert two_factor.remaining_recovery_codes(project, user.id) == 10  # not spent
    current = auth.list_users(project, actor=auth.SYSTEM)[0].session_epoch
    assert two_factor.verify(project, user.id, codes[0], now=later, epoch=current) is not None

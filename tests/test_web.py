"""The web desk over HTTP (Starlette's TestClient): sessions, CSRF, rate limit, escaping, the reply path, figures."""

from __future__ import annotations

import inspect
import io
import re
import string
from pathlib import Path

import pytest
from markupsafe import escape
from starlette.testclient import TestClient

from bot.adapters.console_adapter import deliver_outbox
from bot.cli import main as cli_main
from bot.config import Settings
from bot.desk import Desk
from bot.service import Service, snippets
from bot.storage import open_storage
from bot.web.app import LANGS, Texts, WebDesk
from bot.web.auth import Accounts, LoginLimiter, hash_password, verify_password
from tests.conftest import Chat

PASSWORD = "correct horse battery"
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)> help'


def build(db: str, clock, engine, **settings) -> tuple[TestClient, Service, Accounts]:
    store = open_storage(db, clock=clock)
    accounts = Accounts(store, 3600, clock=clock)
    desk = Desk(
        store,
        engine.t,
        is_moderator=accounts.is_moderator,
        clock=clock,
        overdue_after=600,
        snippets=lambda lang: snippets(engine, lang),
        audit=store.audit.record,
    )
    config = Settings(db_path=db, **settings)
    service = Service(engine, store, desk, config, clock=clock)
    web = WebDesk(service, config, accounts, limiter=LoginLimiter(clock=clock))
    return TestClient(web.app(), follow_redirects=False), service, accounts


@pytest.fixture
def web(tmp_path, clock, engine):
    client, service, accounts = build(str(tmp_path / "web.db"), clock, engine)
    accounts.add("anna", PASSWORD)
    yield client, service, accounts
    service.store.close()


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html)[1]


def login(client: TestClient, name: str = "anna", password: str = PASSWORD):
    page = client.get("/login")
    return client.post("/login", data={"name": name, "password": password, "csrf": csrf_of(page.text)})


def open_case(service: Service, user: str = "console:lotte", text: str = "ik heb een vraag over mijn contract") -> int:
    chat = Chat(service, user)
    chat.say("/mens")
    chat.say(text)
    return service.store.cases.open_for(user)["id"]


def test_logged_out_every_url_goes_to_login(web):
    client, service, _ = web
    case_id = open_case(service)
    for url in ("/", "/queue/rows", f"/cases/{case_id}", f"/cases/{case_id}/messages", "/figures", "/audit", "/?status=all"):
        response = client.get(url)
        assert response.status_code == 303 and response.headers["location"] == "/login", url
    for action in ("claim", "reply", "close", "block", "logout"):
        url = "/logout" if action == "logout" else f"/cases/{case_id}/{action}"
        response = client.post(url, data={"text": "hi", "csrf": "x"})
        assert response.status_code == 303 and response.headers["location"] == "/login", url
    assert client.get("/queue/rows", headers={"X-Influbot-Poll": "1"}).status_code == 401
    assert service.store.cases.get(case_id)["status"] == "waiting"
    assert service.store.outbox.pending("console") == []


def test_login_cookie_flags_and_logout(web):
    client, service, _ = web
    response = login(client)
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    assert client.get("/").status_code == 200
    logout = client.post("/logout", data={"csrf": csrf_of(client.get("/").text)})
    assert logout.status_code == 303
    assert client.get("/").headers["location"] == "/login"
    actions = [r["action"] for r in service.store.audit.recent()]
    assert actions[:2] == ["logout", "login"]


def test_secure_cookie_when_behind_https(tmp_path, clock, engine):
    client, service, accounts = build(str(tmp_path / "s.db"), clock, engine, web_https=True)
    accounts.add("anna", PASSWORD)
    https = TestClient(client.app, base_url="https://testserver", follow_redirects=False)  # a Secure cookie needs https
    assert "Secure" in login(https).headers["set-cookie"]
    service.store.close()


def test_login_needs_its_csrf_token(web):
    client, _, _ = web
    client.get("/login")
    refused = client.post("/login", data={"name": "anna", "password": PASSWORD, "csrf": "forged"})
    assert refused.status_code == 403 and "influbot_session" not in refused.headers.get("set-cookie", "")


def test_login_attempts_are_rate_limited(web, clock):
    client, service, _ = web
    for _ in range(5):
        assert login(client, password="wrong password").status_code == 401
    throttled = login(client)  # even the right password waits now
    assert throttled.status_code == 429 and "influbot_session" not in throttled.headers.get("set-cookie", "")
    clock.advance(16 * 60)
    assert login(client).status_code == 303
    actions = [r["action"] for r in service.store.audit.recent()]
    assert actions.count("login-failed") == 5 and "login-throttled" in actions


def test_a_post_without_the_csrf_token_is_refused(web):
    client, service, _ = web
    case_id = open_case(service)
    login(client)
    for data in ({"text": "hoi"}, {"text": "hoi", "csrf": "not-the-token"}):
        assert client.post(f"/cases/{case_id}/reply", data=data).status_code == 403
        assert client.post(f"/cases/{case_id}/close", data=data).status_code == 403
    assert service.store.cases.get(case_id)["status"] == "waiting"
    assert service.store.outbox.pending("console") == []


def test_user_html_renders_as_text(web):
    client, service, _ = web
    case_id = open_case(service, text=XSS)
    login(client)
    for url in ("/", "/queue/rows", f"/cases/{case_id}", f"/cases/{case_id}/messages"):
        html = client.get(url).text
        assert "<script>alert" not in html and "<img src=x" not in html, url
        assert "&lt;script&gt;alert(" in html, url
    csp = client.get("/").headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_queue_priority_first_with_overdue_mark_and_filters(web, clock):
    client, service, _ = web
    plain = open_case(service, "console:a", "vraag over mijn contract")
    clock.advance(700)  # past the 600 s overdue mark
    safety = service.desk.open_case("tg:9", "telegram", "suicide", "…", priority=3, tags=("suicide",), display_name="Sam")
    login(client)
    html = client.get("/").text
    rows = re.findall(r'data-case="(\d+)"', html)
    assert rows == [str(safety), str(plain)]
    plain_row = html[html.index(f'data-case="{plain}"') :]
    assert "overdue" in plain_row.split("</tr>")[0]
    only_tg = client.get("/?channel=telegram").text
    assert re.findall(r'data-case="(\d+)"', only_tg) == [str(safety)]
    tagged = client.get("/queue/rows?tag=suicide").text
    assert re.findall(r'data-case="(\d+)"', tagged) == [str(safety)]


def test_reply_reaches_the_console_user_once_and_close_tells_them(web):
    client, service, _ = web
    case_id = open_case(service)
    login(client)
    token = csrf_of(client.get(f"/cases/{case_id}").text)
    sent = client.post(f"/cases/{case_id}/reply", data={"text": "Hoi Lotte, ik kijk even mee.", "csrf": token})
    assert sent.status_code == 303
    case = service.store.cases.get(case_id)
    assert case["status"] == "claimed" and case["claimed_by"] == "web:anna"
    delivered = deliver_outbox(service, "lotte")
    assert len(delivered) == 1 and "Hoi Lotte, ik kijk even mee." in delivered[0]
    assert deliver_outbox(service, "lotte") == []
    assert client.post(f"/cases/{case_id}/close", data={"csrf": token}).status_code == 303
    assert service.store.cases.get(case_id)["status"] == "closed"
    assert len(deliver_outbox(service, "lotte")) == 1  # the closing notice
    actions = [(r["moderator"], r["action"], r["case_id"]) for r in service.store.audit.recent()]
    assert ("web:anna", "reply", case_id) in actions and ("web:anna", "close", case_id) in actions


def test_snippet_reply_sends_the_referral_text(web, engine):
    client, service, _ = web
    case_id = open_case(service)
    login(client)
    page = client.get(f"/cases/{case_id}").text
    assert 'value="suicide"' in page
    client.post(f"/cases/{case_id}/reply", data={"snippet": "suicide", "text": "", "csrf": csrf_of(page)})
    (delivered,) = deliver_outbox(service, "lotte")
    assert engine.referrals.render("suicide", "nl", short=True).text in delivered


def test_claim_release_reopen_block_and_bad_hours(web):
    client, service, accounts = web
    accounts.add("ben", PASSWORD)
    case_id = open_case(service)
    login(client)
    token = csrf_of(client.get("/").text)
    client.post(f"/cases/{case_id}/claim", data={"csrf": token})
    assert service.store.cases.get(case_id)["claimed_by"] == "web:anna"
    other = TestClient(client.app, follow_redirects=False)
    login(other, "ben")
    other_token = csrf_of(other.get("/").text)
    taken = other.post(f"/cases/{case_id}/claim", data={"csrf": other_token})
    assert "claimed_by_other" in taken.headers["location"]
    assert "not_yours" in other.post(f"/cases/{case_id}/release", data={"csrf": other_token}).headers["location"]
    client.post(f"/cases/{case_id}/release", data={"csrf": token})
    assert service.store.cases.get(case_id)["status"] == "waiting"
    client.post(f"/cases/{case_id}/close", data={"csrf": token})
    client.post(f"/cases/{case_id}/reopen", data={"csrf": token})
    assert service.store.cases.get(case_id)["status"] == "claimed"
    bad = client.post(f"/cases/{case_id}/block", data={"csrf": token, "hours": "-3"})
    assert "error" in bad.headers["location"] and not service.desk.blocked("console:lotte")
    client.post(f"/cases/{case_id}/block", data={"csrf": token, "hours": "2"})
    assert service.desk.blocked("console:lotte") and service.store.cases.get(case_id)["status"] == "closed"


def test_a_claim_without_a_reply_goes_back_to_the_queue(web, clock):
    client, service, _ = web
    case_id = open_case(service)
    login(client)
    client.post(f"/cases/{case_id}/claim", data={"csrf": csrf_of(client.get("/").text)})
    clock.advance(14 * 60)
    client.get("/queue/rows")
    assert service.store.cases.get(case_id)["status"] == "claimed"
    clock.advance(2 * 60)
    client.get("/queue/rows")
    assert service.store.cases.get(case_id)["status"] == "waiting"
    assert ("system", "auto-release") in [(r["moderator"], r["action"]) for r in service.store.audit.recent()]


def test_a_claim_with_a_reply_stays(web, clock):
    client, service, _ = web
    case_id = open_case(service)
    login(client)
    client.post(f"/cases/{case_id}/reply", data={"text": "hoi", "csrf": csrf_of(client.get("/").text)})
    clock.advance(60 * 60)
    client.get("/queue/rows")
    assert service.store.cases.get(case_id)["status"] == "claimed"


def test_figures_are_aggregates_without_user_text(web, clock):
    client, service, _ = web
    secret = "mijn geheime zin over het contract"
    case_id = open_case(service, text=secret)
    Chat(service, "console:q").say("qwxz blorp vlimmer")  # the bot cannot place this
    service.desk.open_case("tg:9", "telegram", "suicide", "…", priority=3, tags=("suicide",))
    service.store.safety.record("tg:9", "suicide", "high", "telegram")
    login(client)
    token = csrf_of(client.get("/").text)
    clock.advance(300)
    client.post(f"/cases/{case_id}/reply", data={"text": "hoi", "csrf": token})
    clock.advance(300)
    client.post(f"/cases/{case_id}/close", data={"csrf": token})
    html = client.get("/figures").text
    assert secret not in html and "qwxz" not in html and "<svg" in html
    assert re.search(r'id="open-now">1<', html)
    assert "5.0 min (1)" in html and "10.0 min (1)" in html  # median to first reply, to close
    assert re.search(r"<td>suicide</td>(<td>\d+</td>)*<td>1</td>", html)
    day = service.store.figures.counts("faq_unplaced", "2000-01-01")
    assert [r["n"] for r in day] == [1]


def test_web_strings_cover_every_key_in_the_templates():
    table = Texts().table
    used = set()
    for path in Path("bot/web/templates").glob("*.html"):
        used |= set(re.findall(r't\("([a-z_]+)"[,)]', path.read_text()))
    used |= {f"status_{s}" for s in ("open", "waiting", "claimed", "closed", "all")}
    used |= {f"author_{a}" for a in ("user", "moderator", "note", "system", "quote")}
    used |= {f"act_{a}" for a in ("claim", "release", "close", "reopen")}
    done = "claimed claimed_by_other released not_yours closed reopened replied noted tagged blocked"
    used |= {f"done_{d}" for d in done.split()}
    assert set(re.findall(r'(?:return|else) "([a-z_]+)"', inspect.getsource(WebDesk._act))) == set(done.split())
    missing = sorted(k for k in used if k not in table)
    assert not missing
    assert all(set(v) == set(LANGS) for v in table.values())


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


def test_web_strings_have_nl_fr_and_en_with_the_same_placeholders():
    table = Texts().table
    assert LANGS == ("nl", "fr", "en")
    for key, texts in table.items():
        assert set(texts) == {"nl", "fr", "en"}, key
        assert all(isinstance(texts[lang], str) and texts[lang].strip() for lang in LANGS), key
        assert placeholders(texts["fr"]) == placeholders(texts["nl"]) == placeholders(texts["en"]), key
    assert placeholders(table["logged_in_as"]["fr"]) == {"name"} and placeholders(table["login_wait"]["fr"]) == {"minutes"}


def test_french_web_strings_say_vous():
    """One register per language: the desk's French says "vous", as the bot's own texts do (see test_content)."""
    tu = re.compile(r"\b(?:tu|toi|ton|ta|tes|te|t')\b|\bt'", re.IGNORECASE)
    table = Texts().table
    found = [f"{key}: {tu.findall(texts['fr'])}" for key, texts in table.items() if tu.search(texts["fr"])]
    assert not found, found
    assert any(re.search(r"\bvous\b", texts["fr"], re.IGNORECASE) for texts in table.values())


def test_lang_fr_renders_the_desk_in_french_and_is_remembered(web):
    client, service, _ = web
    open_case(service)
    texts = Texts()
    login_page = client.get("/login?lang=fr")
    assert '<html lang="fr">' in login_page.text and str(escape(texts("login_title", "fr"))) in login_page.text
    assert client.cookies.get("lang") == "fr"
    login(client)
    queue = client.get("/?lang=fr")
    assert queue.status_code == 200 and '<html lang="fr">' in queue.text
    assert "lang=fr" in queue.headers["set-cookie"] and client.cookies.get("lang") == "fr"
    for key in ("queue_title", "nav_queue", "filter", "status_waiting", "logged_in_as"):
        assert str(escape(texts(key, "fr", name="anna"))) in queue.text, key
    assert texts("queue_title", "nl") not in queue.text and texts("queue_title", "en") not in queue.text
    assert '<a href="?lang=fr" hreflang="fr" lang="fr" aria-current="true">FR</a>' in queue.text
    assert all(f'href="?lang={code}"' in queue.text for code in LANGS)
    again = client.get("/")  # no ?lang=: the cookie keeps the desk in French
    assert '<html lang="fr">' in again.text and texts("queue_title", "fr") in again.text
    assert texts("status_waiting", "fr") in client.get("/queue/rows").text  # the polled fragment too
    case_id = service.store.cases.open_for("console:lotte")["id"]
    for url, key in ((f"/cases/{case_id}", "act_claim"), ("/figures", "cases_per_day"), ("/audit", "audit_title")):
        page = client.get(url)
        assert page.status_code == 200 and '<html lang="fr">' in page.text and texts(key, "fr") in page.text, url
    dutch = client.get("/?lang=nl")
    assert '<html lang="nl">' in dutch.text and texts("queue_title", "nl") in dutch.text
    assert client.cookies.get("lang") == "nl"
    assert '<html lang="nl">' in client.get("/?lang=de").text  # not offered: stays on the cookie's language


def test_french_login_errors(web):
    client, _, _ = web
    client.get("/login?lang=fr")
    failed = login(client, password="wrong password")
    assert failed.status_code == 401 and Texts()("login_failed", "fr") in failed.text


def test_passwords_are_scrypt_hashes(web):
    _, service, accounts = web
    stored = service.store.moderators.get("anna")["password_hash"]
    assert stored.startswith("scrypt$") and PASSWORD not in stored
    assert verify_password(PASSWORD, stored) and not verify_password("wrong", stored)
    assert hash_password(PASSWORD) != hash_password(PASSWORD)  # salted


def test_a_new_password_or_removal_ends_sessions(web):
    client, _, accounts = web
    login(client)
    assert client.get("/").status_code == 200
    accounts.passwd("anna", "another long password")
    assert client.get("/").status_code == 303
    login(client, password="another long password")
    accounts.remove("anna")
    assert client.get("/").status_code == 303


def test_moderator_commands(tmp_path, monkeypatch, capsys):
    db = str(tmp_path / "m.db")
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert cli_main(["moderator", "add", "anna", "--db", db]) == 0
    assert "shown once" not in capsys.readouterr().out

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", Tty())
    assert cli_main(["moderator", "add", "ben", "--db", db]) == 0
    generated = re.search(r"shown once\): (\S+)", capsys.readouterr().out)[1]
    assert cli_main(["moderator", "add", "ben", "--db", db]) == 1
    assert cli_main(["moderator", "list", "--db", db]) == 0
    assert capsys.readouterr().out.split() == ["anna", "ben"]
    store = open_storage(db)
    accounts = Accounts(store)
    assert accounts.login("ben", generated) and accounts.login("anna", PASSWORD) and not accounts.login("anna", "nope")
    store.close()
    assert cli_main(["moderator", "remove", "ben", "--db", db]) == 0
    assert cli_main(["moderator", "remove", "ben", "--db", db]) == 1
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli_main(["moderator", "passwd", "anna", "--db", db]) == 2


def test_web_stores_on_both_databases(db_url, clock):
    store = open_storage(db_url, clock=clock)
    try:
        accounts = Accounts(store, 60, clock=clock)
        assert accounts.add("anna", PASSWORD) and not accounts.add("anna", PASSWORD)
        token = accounts.login("anna", PASSWORD)
        assert accounts.session(token)["moderator"] == "anna"
        clock.advance(61)
        assert accounts.session(token) is None  # idle too long
        store.audit.record("web:anna", "claim", None, "")
        assert store.audit.recent(1)[0]["action"] == "claim"
        store.figures.bump("faq_unplaced", "2026-12-02")
        store.figures.bump("faq_unplaced", "2026-12-02", 2)
        assert store.figures.counts("faq_unplaced", "2026-12-01") == [{"day": "2026-12-02", "n": 3}]
        assert store.moderators.remove("anna") and accounts.names() == []
    finally:
        store.close()

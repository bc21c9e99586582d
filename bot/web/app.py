"""The moderator web desk: a Starlette app rendering Jinja2 templates over the Desk and the storage protocols.

Every route but /login and /static needs a session (else a redirect to /login); every POST needs the session's
CSRF token. Jinja2 autoescapes all output, and the Content-Security-Policy allows only our own script file.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.config import Settings
from bot.content import data_root, load_yaml
from bot.desk.commands import parse_hours
from bot.desk.desk import NotFound
from bot.service import Service
from bot.web import figures
from bot.web.auth import PREFIX, Accounts, LoginLimiter

HERE = Path(__file__).resolve().parent
COOKIE = "influbot_session"
LOGIN_CSRF = "influbot_login_csrf"
LANGS = ("nl", "fr", "en")  # Dutch first; the switcher, ?lang= and the lang cookie offer these
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
STATUSES = ("open", "waiting", "claimed", "closed", "all")
ACTIONS = ("claim", "release", "close", "reopen", "reply", "note", "tag", "block")

Handler = Callable[..., Awaitable[Response]]


class Texts:
    """The web desk's UI strings (knowledge/web.yml): Dutch first, French and English too."""

    def __init__(self, path: Path | None = None):
        self.table: dict[str, dict[str, str]] = load_yaml(path or data_root() / "knowledge" / "web.yml")

    def __call__(self, key: str, lang: str, **kw: Any) -> str:
        entry = self.table[key]
        text = entry.get(lang) or entry["nl"]
        return text.format(**kw) if kw else text


def _age(seconds: float) -> str:
    minutes = int(max(seconds, 0) // 60)
    if minutes >= 24 * 60:
        return f"{minutes // 1440}d{(minutes % 1440) // 60}h"
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def _stamp(at: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(at)) + " UTC" if at else ""


class WebDesk:
    def __init__(self, service: Service, settings: Settings, accounts: Accounts, limiter: LoginLimiter | None = None):
        self.service = service
        self.desk = service.desk
        self.store = service.store
        self.settings = settings
        self.accounts = accounts
        self.limiter = limiter or LoginLimiter()
        self.texts = Texts()
        self.env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True))
        self.env.globals.update(age=_age, stamp=_stamp, langs=LANGS)

    # -- plumbing ---------------------------------------------------------------------------------

    def lang(self, request: Request) -> str:
        asked = request.query_params.get("lang") or request.cookies.get("lang")
        return asked if asked in LANGS else "nl"

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        lang = self.lang(request)
        context.update(lang=lang, t=lambda key, **kw: self.texts(key, lang, **kw), path=request.url.path)
        response = HTMLResponse(self.env.get_template(name).render(**context), status_code=status)
        if request.query_params.get("lang") in LANGS:
            response.set_cookie("lang", lang, max_age=365 * 86400, httponly=True, samesite="lax", secure=self.secure(request))
        return response

    def secure(self, request: Request) -> bool:
        return self.settings.web_https or request.url.scheme == "https"

    def session(self, request: Request) -> dict[str, Any] | None:
        return self.accounts.session(request.cookies.get(COOKIE))

    def guarded(self, handler: Handler) -> Handler:
        """No session: to /login. A POST without the session's CSRF token: 403."""

        async def endpoint(request: Request) -> Response:
            session = self.session(request)
            if session is None:
                if request.headers.get("x-influbot-poll"):
                    return PlainTextResponse("login", status_code=401)
                return RedirectResponse("/login", status_code=303)
            form: dict[str, str] = {}
            if request.method == "POST":
                form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
                if not hmac.compare_digest(form.get("csrf", ""), session["csrf"]):
                    return PlainTextResponse(self.texts("csrf_refused", self.lang(request)), status_code=403)
            return await handler(request, session, form)

        return endpoint

    def moderator(self, session: dict[str, Any]) -> str:
        return f"{PREFIX}{session['moderator']}"

    # -- login ------------------------------------------------------------------------------------

    async def login_page(self, request: Request, error: str = "", status: int = 200) -> Response:
        token = secrets.token_urlsafe(24)
        response = self.render(request, "login.html", status=status, csrf=token, error=error)
        response.set_cookie(LOGIN_CSRF, token, httponly=True, samesite="strict", secure=self.secure(request), path="/login")
        return response

    async def login(self, request: Request) -> Response:
        if request.method == "GET":
            return await self.login_page(request)
        form = await request.form()
        lang = self.lang(request)
        sent, cookie = str(form.get("csrf", "")), request.cookies.get(LOGIN_CSRF, "")
        if not cookie or not hmac.compare_digest(sent, cookie):
            return PlainTextResponse(self.texts("csrf_refused", lang), status_code=403)
        name, password = str(form.get("name", "")).strip().lower(), str(form.get("password", ""))
        client = request.client.host if request.client else "?"
        keys = (f"name:{name}", f"addr:{client}")
        wait = self.limiter.wait(*keys)
        if wait:
            self.store.audit.record(f"{PREFIX}{name}", "login-throttled", None, client)
            return await self.login_page(request, self.texts("login_wait", lang, minutes=max(1, round(wait / 60))), 429)
        token = self.accounts.login(name, password)
        if token is None:
            self.limiter.failed(*keys)
            self.store.audit.record(f"{PREFIX}{name}", "login-failed", None, client)
            return await self.login_page(request, self.texts("login_failed", lang), 401)
        self.limiter.succeeded(keys[0])
        self.store.audit.record(f"{PREFIX}{name}", "login", None, client)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            COOKIE,
            token,
            httponly=True,
            samesite="lax",
            secure=self.secure(request),
            max_age=int(self.settings.web_session_hours * 3600),
        )
        response.delete_cookie(LOGIN_CSRF, path="/login")
        return response

    async def logout(self, request: Request, session: dict[str, Any], form: dict[str, str]) -> Response:
        self.accounts.logout(request.cookies.get(COOKIE))
        self.store.audit.record(self.moderator(session), "logout", None, "")
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    # -- queue ------------------------------------------------------------------------------------

    def filters(self, request: Request) -> dict[str, str]:
        q = request.query_params
        status = q.get("status", "open")
        return {
            "channel": q.get("channel", ""),
            "status": status if status in STATUSES else "open",
            "tag": q.get("tag", ""),
        }

    def queue_rows(self, session: dict[str, Any], f: dict[str, str]) -> list[dict[str, Any]]:
        if self.settings.claim_timeout_minutes > 0:
            self.desk.release_stale(self.settings.claim_timeout_minutes * 60)
        rows = self.desk.list(self.moderator(session), include_closed=f["status"] in ("closed", "all"))
        status = f["status"]
        return [
            r
            for r in rows
            if (status in ("all", "open") and (status == "all" or r["status"] != "closed") or r["status"] == status)
            and (not f["channel"] or r["channel"] == f["channel"])
            and (not f["tag"] or f["tag"] in (r["tags"] or []))
        ]

    async def queue(self, request: Request, session: dict[str, Any], form: dict[str, str]) -> Response:
        f = self.filters(request)
        rows = self.queue_rows(session, f)
        every = self.desk.list(self.moderator(session), include_closed=True)
        return self.render(
            request,
            "queue.html",
            session=session,
            rows=rows,
            filters=f,
            statuses=STATUSES,
            channels=sorted({r["channel"] for r in every}),
            tags=sorted({t for r in every for t in (r["tags"] or [])}),
            poll="/queue/rows?" + urlencode(f),
        )

    async def queue_fragment(self, request: Request, session: dict[str, Any], form: dict[str, str]) -> Response:
        return self.render(request, "queue_rows.html", rows=self.queue_rows(session, self.filters(request)))

    # -- a case -----------------------------------------------------------------------------------

    def _case_context(self, session: dict[str, Any], case_id: int) -> dict[str, Any]:
        case, messages = self.desk.show(self.moderator(session), case_id)
        state = self.store.users.get(case["user"])
        seen = {m["text"] for m in messages}
        earlier = [text for text in state.recent if text not in seen] if case["status"] != "closed" else []
        return {"case": case, "messages": messages, "earlier": earlier, "user_lang": state.lang}

    async def case_page(self, request: Request, session: dict[str, Any], form: dict[str, str]) -> Response:
        try:
            context = self._case_context(session, int(request.path_params["case_id"]))
        except NotFound:
            return self.render(
                request, "error.html", status=404, session=session, message=self.texts("no_case", self.lang(request))
            )
        snippets = self.desk.snippets(context["user_lang"])
        return self.render(
            request,
            "case.html",
            session=session,
            snippets=snippets,
            note=request.query_params.get("note", ""),
            me=self.moderator(session),
            poll=f"/cases/{context['case']['id']}/messages",
            **context,
        )

    async def case_fragment(self, request: Request, session: dict[str, Any], form: dict[str, str]) -> Response:
        try:
            context = self._case_context(session, int(request.path_params["case_id"]))
        except NotFound:
            return PlainTextResponse("", status_code=404)
        return self.render(request, "messages.html", **context)

    async def case_action(self, request: Request, session: dict[str, Any], form: dict[str, str]) -> Response:
        case_id, action = int(request.path_params["case_id"]), request.path_params["action"]
        if action not in ACTIONS:
            return PlainTextResponse("unknown action", status_code=404)
        try:
            note = self._act(session, case_id, action, form)
        except NotFound:
            return PlainTextResponse(self.texts("no_case", self.lang(request)), status_code=404)
        except ValueError as exc:  # a closed case, a bad number of hours, an empty reply
            note = f"error:{exc}"
        return RedirectResponse(f"/cases/{case_id}?" + urlencode({"note": note}), status_code=303)

    def _act(self, session: dict[str, Any], case_id: int, action: str, form: dict[str, str]) -> str:
        """Run one moderator action; returns the note key to show (the desk writes the audit row)."""
        desk, me, name = self.desk, self.moderator(session), session["moderator"]
        text = form.get("text", "").strip()
        if action == "claim":
            won, holder = desk.claim(me, case_id)
            return "claimed" if won else "claimed_by_other"
        if action == "release":
            return "released" if desk.release(me, case_id) else "not_yours"
        if action == "close":
            desk.close(me, case_id)
            return "closed"
        if action == "reopen":
            desk.reopen(me, case_id)
            return "reopened"
        if action == "reply":
            snippet = form.get("snippet", "")
            if not text and snippet:
                text = desk.snippets(desk.user_lang(desk.case(case_id)["user"])).get(snippet, "")
            if not text:
                raise ValueError("empty reply")
            desk.reply(me, case_id, text, name)
            return "replied"
        if action == "note":
            if not text:
                raise ValueError("empty note")
            desk.note(me, case_id, text)
            return "noted"
        if action == "tag":
            words = text.split()
            desk.tag(
                me,
                case_id,
                add=tuple(w.lstrip("+") for w in words if not w.startswith("-")),
                remove=tuple(w[1:] for w in words if w.startswith("-")),
            )
            return "tagged"
        try:
            hours = parse_hours(form.get("hours", ""))
        except ValueError as exc:
            raise ValueError(str(exc)) from None
        desk.block(me, desk.case(case_id)["user"], hours * 3600)
        return "blocked"

    # -- figures and audit ------------------------------------------------------------------------

    async def figures_page(self, request: Request, session: dict[str, Any], form: dict[str, str]) -> Response:
        report = figures.build(self.store, self.desk.list(self.moderator(session)), self.store.clock())
        return self.render(request, "figures.html", session=session, report=report, charts=figures.charts(report))

    async def audit_page(self, request: Request, session: dict[str, Any], form: dict[str, str]) -> Response:
        return self.render(request, "audit.html", session=session, rows=self.store.audit.recent(200))

    # -- the app ----------------------------------------------------------------------------------

    def app(self) -> Starlette:
        g = self.guarded
        routes = [
            Route("/login", self.login, methods=["GET", "POST"]),
            Route("/logout", g(self.logout), methods=["POST"]),
            Route("/", g(self.queue)),
            Route("/queue/rows", g(self.queue_fragment)),
            Route("/cases/{case_id:int}", g(self.case_page)),
            Route("/cases/{case_id:int}/messages", g(self.case_fragment)),
            Route("/cases/{case_id:int}/{action:str}", g(self.case_action), methods=["POST"]),
            Route("/figures", g(self.figures_page)),
            Route("/audit", g(self.audit_page)),
            Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
        ]
        return Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)])


class SecurityHeaders:
    """Adds the CSP and friends to every response (pages, fragments, redirects, static files)."""

    HEADERS = [
        (b"content-security-policy", CSP.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
        (b"cache-control", b"no-store"),
        (b"x-frame-options", b"DENY"),
    ]

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(service: Service, settings: Settings | None = None) -> Starlette:
    settings = settings or service.settings
    accounts = Accounts(service.store, settings.web_session_hours * 3600)
    return WebDesk(service, settings, accounts).app()

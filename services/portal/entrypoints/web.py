"""The portal's HTTP side: a FastAPI app of server-rendered pages, served by uvicorn inside the
service's process (so `mapnet serve portal` and a whole region in one process both serve it).
Every business read goes to the other services on the bus, acting for the signed-in person;
what the portal keeps itself is people and sessions."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts import events as ev
from contracts import registry as rg
from contracts.access import Actor
from contracts.envelope import Envelope, new_id
from contracts.errors import Refused
from mapnet.runtime import logs
from mapnet.runtime.bus import BusClient
from mapnet.runtime.credentials import without_login
from mapnet.runtime.http import QuietServer
from mapnet.runtime.service import Runtime

from ..adapters import passwords
from ..adapters.store import PortalStore
from ..domain.users import NewSession, User
from ..service_layer.accounts import Accounts
from ..settings import PortalSettings
from . import (
    account_pages,
    event_pages,
    facts_pages,
    feedback_pages,
    finance_pages,
    guide_pages,
    i18n,
    import_pages,
    monitoring_pages,
    my_pages,
    office_pages,
    organiser_pages,
    pages,
    report_pages,
    setup_pages,
    sme_pages,
)
from .api import HTTP_STATUS, create_api
from .forms import Cookies, csrf_ok
from .i18n import tr
from .import_pages import MAX_UPLOAD
from .limits import Guarded
from .wiring import accounts_on

HERE = Path(__file__).resolve().parent.parent
LOOPBACK = ("127.0.0.1", "::1", "localhost")
# Events whose host region the portal keeps (host_of): far more than a region has live.
HOSTS_KEPT = 10_000


class PortalConfigError(ValueError):
    """A setting the portal cannot start with."""


def checked(settings: PortalSettings) -> PortalSettings:
    """The settings, if the links in mails can point somewhere people reach: listening beyond
    this machine, the portal must be told its public address (else an invitation would point
    at 0.0.0.0 or at an address behind a proxy)."""
    host = settings.http_host.strip("[]")
    if not settings.public_url and host not in LOOPBACK and not host.startswith("127."):
        raise PortalConfigError(
            f"the portal listens on {settings.http_host}: set MAPNET_PUBLIC_URL to the address "
            "people reach it at (https://...), so that the links in mails lead there"
        )
    return settings


def went_wrong(correlationid: str) -> Refused:
    """What a person is told of a fault: no class or operation name, only the id under which
    the log keeps the detail."""
    return Refused("internal", tr("something went wrong: try again"), correlationid=correlationid)


def _kept_by_the_host(op: Any) -> bool:
    """A network operation about records only an event's host region keeps: every one but the
    calendar's reads, which each region answers from its copies of the others' events."""
    return bool(op.network) and not (op.service == "events" and op.kind == "query")


class Portal:
    """What every page needs: the region, the accounts, the bus, the templates."""

    def __init__(self, region: str, accounts: Accounts, settings: PortalSettings) -> None:
        self.region, self.accounts, self.settings = region, accounts, settings
        self.bus: BusClient | None = None
        self._hosts: dict[str, str] = {}  # event id → the region hosting it (host_of)
        self.log: Any = logs.get(region=region, service="portal")  # the runtime's, once built
        # Where links in mails point: MAPNET_PUBLIC_URL, else the address the portal listens on.
        self.base_url = settings.public_url or ""
        # Behind HTTPS (a public https:// address) the cookies are Secure __Host- cookies
        # unless MAPNET_SECURE_COOKIES says otherwise.
        secure = settings.secure_cookies
        if secure is None:
            secure = settings.https or (settings.public_url or "").lower().startswith("https://")
        self.cookies = Cookies(secure=secure)
        # The languages of the pages (i18n.py): each request in its person's or browser's,
        # else the region's (English if the region's has no catalogue, so that texts, dates
        # and `lang` agree).
        self.languages = i18n.Languages(settings.locale_dir or i18n.LOCALE, settings.language)
        if self.languages.region.code != settings.language:
            self.log.warning("portal_language_without_catalogue", asked=settings.language,
                             written_in=self.languages.region.code)  # fmt: skip
        env = i18n.environment(HERE / "templates")
        self.templates = Jinja2Templates(env=env)

    async def language_of(self, request: Request) -> i18n.Language:
        """The language a request is written in (i18n.Languages.for_request): the signed-in
        person's choice, else their browser's, else the region's."""
        chosen = None
        if token := request.cookies.get(self.cookies.session):
            try:
                found = await self.accounts.signed_in(token)
            except Exception:  # the page itself then says what failed, in the region's words
                self.log.warning("language_of_session_unknown", exc_info=True)
                found = None
            chosen = found[0].language if found else None
        return self.languages.for_request(chosen, request.headers.get("accept-language"))

    def public(self) -> Actor:
        """Whom a public page's reads act for: the portal itself."""
        return Actor(id=f"portal/{self.region}", role="service", region=self.region)

    async def call(
        self, op: Any, data: Any, actor: Actor, *, at: str | None = None, **options: Any
    ) -> Any:
        """The service's answer, or its refusal; a service's own fault is told to the person
        as "something went wrong" with the request's correlation id, its detail (which names
        the failing code) only to the log, under the same id.

        Where it is sent: ``at``, else, for an operation open to the network about an event
        (its data names ``event_id``), the region that hosts the event, since only the home
        region keeps an event's registrations and meetings (a contact here registers and meets
        at another region's brokerage event that way; the calendar's reads are answered here,
        from this region's copies); else this region."""
        assert self.bus is not None, "the portal is not connected to the bus yet"
        if (
            at is None
            and _kept_by_the_host(op)
            and isinstance(getattr(data, "event_id", None), str)
        ):
            at = await self.host_of(data.event_id)
        correlationid = new_id()
        try:
            return await self.bus.call(op, data, at or self.region, actor=actor,
                                       correlationid=correlationid, **options)  # fmt: skip
        except Refused as refusal:
            if refusal.code != "internal":
                raise
            self.log.error("service_failed", operation=op.name, correlation_id=correlationid,
                           error=refusal.message, details=refusal.details)  # fmt: skip
            raise went_wrong(correlationid) from None

    async def host_of(self, event_id: str | None) -> str:
        """The region that hosts an event, as this region's calendar has it (its own events,
        and the copies of the others' public ones); this region for one it does not know (the
        service then says so). Kept once known: an event never moves to another region."""
        if not event_id:
            return self.region
        if (known := self._hosts.get(event_id)) is not None:
            return known
        try:
            region = (await self.event(event_id)).region
        except Refused as refusal:
            if refusal.code not in ("not_found", "validation_failed"):
                raise
            return self.region
        if len(self._hosts) >= HOSTS_KEPT:
            self._hosts.pop(next(iter(self._hosts)))  # the oldest first
        self._hosts[event_id] = region
        return region

    async def event(self, event_id: str) -> ev.EventDetails:
        """A calendar entry as anyone may see it (the portal's pages and forms about events)."""
        found: ev.EventDetails = await self.call(
            ev.GET_EVENT, ev.GetEvent(event_id=event_id), self.public()
        )
        return found

    async def person(self, request: Request) -> tuple[User, str] | None:
        """The signed-in person and their session's CSRF token, which the page's forms then
        carry and its posts are checked against."""
        token = request.cookies.get(self.cookies.session)
        found = await self.accounts.signed_in(token) if token else None
        if found is not None:
            request.state.session_csrf = found[1]
        return found

    def signed_in_at(self, target: str, session: NewSession) -> Response:
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(self.cookies.session, session.token, httponly=True, samesite="lax",
                            secure=self.cookies.secure, path="/",
                            max_age=int(self.settings.session_hours * 3600))  # fmt: skip
        return response

    def page(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        session_csrf = getattr(request.state, "session_csrf", None)
        token = session_csrf or request.cookies.get(self.cookies.csrf) or secrets.token_urlsafe(24)
        values = {"csrf": token, "region": self.region, **i18n.current().page_values()}
        response = self.templates.TemplateResponse(
            request, name, {**values, **context}, status_code=status
        )
        if session_csrf is None and self.cookies.csrf not in request.cookies:
            response.set_cookie(self.cookies.csrf, token, httponly=True, samesite="strict",
                                secure=self.cookies.secure, path="/")  # fmt: skip
        return response


class InTheirLanguage:
    """Each request written in one language, chosen once before any page is built
    (Portal.language_of) and read by the templates, ``tr`` and the date and number filters
    (i18n.current). The partners' API is in the region's language; static files have none."""

    def __init__(self, app: ASGIApp, portal: Portal) -> None:
        self.app, self.portal = app, portal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        chosen = not scope["path"].startswith("/api/")
        if chosen:
            language = await self.portal.language_of(Request(scope))
        else:
            language = self.portal.languages.region
        i18n.speak(language)

        async def saying_so(message: Message) -> None:
            # Which language the response is in, and (for a page, chosen by the person's
            # session or the browser's Accept-Language) that it differs by those: a shared
            # cache must not serve one person's language to everyone.
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Language"] = language.tag
                if chosen:
                    headers["Vary"] = varying(headers.get("Vary"), LANGUAGE_CHOSEN_BY)
            await send(message)

        await self.app(scope, receive, saying_so)


# What a page's language is chosen by (InTheirLanguage): the browser's header and the cookie
# of the session of a person who chose one.
LANGUAGE_CHOSEN_BY = ("Accept-Language", "Cookie")


def varying(vary: str | None, more: tuple[str, ...]) -> str:
    """A response's Vary with these headers added to those it names already (once each)."""
    named = [h.strip() for h in (vary or "").split(",") if h.strip()]
    if "*" in named:
        return "*"
    known = {h.lower() for h in named}
    return ", ".join([*named, *(h for h in more if h.lower() not in known)])


def create_app(portal: Portal) -> FastAPI:
    app = FastAPI(title="MAPnet portal", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.portal = portal
    app.add_middleware(InTheirLanguage, portal=portal)  # inside Guarded: after its limits
    app.add_middleware(Guarded, larger={("POST", "/smes/import"): MAX_UPLOAD + 64 * 1024})
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        status = HTTP_STATUS.get(exc.code, 400)
        return portal.page(request, "error.html", status, code=exc.code, message=exc.message,
                           person=None, reference=exc.details.get("correlationid"))  # fmt: skip

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> Response:
        """The portal's own fault: the same plain page, the detail in the log."""
        shown = went_wrong(new_id())
        portal.log.error("page_failed", path=request.url.path, exc_info=exc,
                         correlation_id=shown.details["correlationid"])  # fmt: skip
        return await refused(request, shown)

    @app.exception_handler(ValidationError)
    async def invalid(request: Request, exc: ValidationError) -> Response:
        """A value from an address or a form the contracts refuse (an id too long, a word for
        a number): named, never a crash."""
        names = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
        return portal.page(request, "error.html", 422, code="validation_failed", person=None,
                           message=tr("check: %(names)s", names=names))  # fmt: skip

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    add_sign_in_routes(app, portal)
    every_page = pages.Pages(portal)
    import_pages.add_routes(app, portal, every_page)  # /smes/import before /smes/{sme_id}
    sme_pages.add_routes(app, portal, every_page)  # /smes/new before /smes/{sme_id}
    office_pages.add_routes(app, portal, every_page)  # /smes/export.csv before /smes/{sme_id}
    pages.add_routes(app, every_page)
    account_pages.add_routes(app, portal, every_page)
    setup_pages.add_routes(app, portal, every_page)  # /events/new before /events/{event_id}
    event_pages.add_routes(app, portal, every_page)
    organiser_pages.add_routes(app, portal, every_page)
    my_pages.add_routes(app, portal, every_page)
    facts_pages.add_routes(app, portal, every_page)
    report_pages.add_routes(app, portal, every_page)
    guide_pages.add_routes(app, portal, every_page)
    finance_pages.add_routes(app, portal, every_page)
    feedback_pages.add_routes(app, portal, every_page)
    monitoring_pages.add_routes(app, portal, every_page)
    return app


def add_sign_in_routes(app: FastAPI, portal: Portal) -> None:
    """Signing in and out: the only forms a person posts without a session of their own."""

    @app.get("/signin", response_class=HTMLResponse)
    async def signin_page(request: Request, next: str = "/") -> Response:
        return portal.page(request, "signin.html", next=_local(next), error=None, person=None,
                           demo=portal.settings.demo)  # fmt: skip

    @app.post("/signin")
    async def signin(request: Request) -> Response:
        form = await request.form()
        target = _local(str(form.get("next") or "/"))
        if not csrf_ok(request, form):
            return portal.page(request, "error.html", 403, code="forbidden", person=None,
                               message=tr("the form has expired: reload the page"))  # fmt: skip
        address = request.client.host if request.client else "unknown"
        try:
            _, session = await portal.accounts.sign_in(
                str(form.get("email", "")), str(form.get("password", "")), address
            )
        except Refused as refusal:
            wait = refusal.details.get("retry_after_s")
            shown = portal.page(request, "signin.html", 429 if wait else 401, next=target,
                                error=refusal.message, person=None,
                                demo=portal.settings.demo)  # fmt: skip
            if wait:
                shown.headers["Retry-After"] = str(wait)
            return shown
        return portal.signed_in_at(target, session)

    @app.post("/signout")
    async def signout(request: Request) -> Response:
        form = await request.form()
        await portal.person(request)  # its session's token is the one the form must carry
        if not csrf_ok(request, form):  # a forged post signs nobody out
            return portal.page(request, "error.html", 403, code="forbidden", person=None,
                               message=tr("the form has expired: reload the page"))  # fmt: skip
        if token := request.cookies.get(portal.cookies.session):
            await portal.accounts.sign_out(token)
        response = RedirectResponse("/signin", status_code=303)
        response.delete_cookie(portal.cookies.session, path="/", secure=portal.cookies.secure,
                               httponly=True, samesite="lax")  # fmt: skip
        return response


def _local(target: str) -> str:
    """Only a path on this site is a place to go after signing in (no open redirect): browsers
    read `/\\host` as `//host`, and drop tabs and line breaks from an address."""
    cleaned = "".join(c for c in target if c not in "\t\r\n")
    if not cleaned.startswith("/") or cleaned.startswith("//") or "\\" in cleaned:
        return "/"
    return cleaned


async def serve_http(
    app: FastAPI, settings: PortalSettings, port: int, region: str
) -> tuple[QuietServer, asyncio.Task[None], str]:
    """The portal's HTTP server started (over TLS when it has a certificate): the server, its
    task and the address it listens at (port 0: any free one)."""
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="off",
        ssl_certfile=settings.tls_cert if settings.https else None,
        ssl_keyfile=settings.tls_key if settings.https else None,
        # The client's address from a proxy's headers only when told which proxies to believe
        # (uvicorn's own default believes 127.0.0.1, and reads FORWARDED_ALLOW_IPS itself).
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or "",
    )
    server = QuietServer(config)  # woken to stop, not ten times a second to look
    task = asyncio.create_task(server.serve(), name=f"{region}-portal-http")
    for _ in range(500):  # uvicorn says it has started by a flag only
        if server.started or task.done():
            break
        await asyncio.sleep(0.02)
    if task.done():
        task.result()  # the port is taken, say: raise what uvicorn met
    bound = server.servers[0].sockets[0].getsockname()
    scheme = "https" if settings.https else "http"
    return server, task, f"{scheme}://{settings.http_host}:{bound[1]}"


def build(rt: Runtime) -> None:
    settings = checked(rt.config_as(PortalSettings))
    store = PortalStore(rt.db)
    accounts = accounts_on(store, settings.session_hours)
    portal = Portal(rt.region, accounts, settings)
    portal.log = rt.log
    app = create_app(portal)
    nats_url = without_login(rt.settings.nats_url or f"nats://127.0.0.1:{rt.settings.nats_port}")
    api, partner_links = create_api(nats_url, rt.region)
    app.mount("/api/v1", api)
    serving: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []

    async def start() -> None:
        assert rt.nc is not None
        await passwords.ready()  # before the first sign-in is answered
        portal.bus = BusClient(rt.nc, source=rt.source, timeout_s=10)
        port = settings.http_port
        if port and rt.region in rt.settings.regions:
            port += rt.settings.regions.index(rt.region)  # one port per region
        server, task, rt.http_url = await serve_http(app, settings, port, rt.region)
        portal.base_url = (settings.public_url or rt.http_url).rstrip("/")
        rt.log.info("portal_listening", url=rt.http_url)
        serving.append((server, task))

    async def stop() -> None:
        await partner_links.close()
        for server, task in serving:
            server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await task

    rt.startup.append(start)
    rt.shutdown.insert(0, stop)

    # An erased SME's contacts (or one erased contact) can no longer sign in: their accounts go.
    @rt.consumes(rg.SME_ERASED)
    async def on_sme_erased(event: Envelope[rg.SmeErased]) -> None:
        if event.data.region == rt.region:
            await store.remove_people_of(event.data.sme_id)
            accounts.forget_sessions()

    @rt.consumes(rg.CONTACT_ERASED)
    async def on_contact_erased(event: Envelope[rg.ContactErased]) -> None:
        if event.data.region == rt.region and event.data.email_sha256:
            await store.remove_people_of(event.data.sme_id, event.data.email_sha256)
            accounts.forget_sessions()

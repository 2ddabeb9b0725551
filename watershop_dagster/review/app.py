"""The review page: `watershop review`. Starlette with server-rendered Jinja2 templates, no JavaScript.

It listens on 127.0.0.1. With `--lan` (the owner's phone on the shop's network) it needs a password: stored
only as a scrypt hash, checked at /login, then a signed session cookie that expires (SESSION_SECONDS); every
other request without it is refused (401), and after LOGIN_ATTEMPTS wrong passwords from one address in
LOGIN_WINDOW_S seconds /login answers 429 until the window has passed. Without a password only requests to
127.0.0.1 or localhost are served (400 otherwise: DNS rebinding). A form posted from another site is
refused (403, its Origin or Referer names another host): the page on 127.0.0.1 has no session to protect it
from a web page the owner happens to open. Every correction made here is logged with its session, and so is
an erasure (/forget, for an ID that looks like someone on the opt-out list) in `forgotten_customers`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import defaultdict, deque
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from watershop_dagster.core.identities.corrections import CorrectionLog, resolve_ids
from watershop_dagster.core.storage.layout import MAIN_SHOP
from watershop_dagster.core.storage.shop_scope import ShopWarehouse
from watershop_dagster.core.storage.warehouse import Warehouse
from watershop_dagster.defs.partitions import identities_shared
from watershop_dagster.review.data import customer_visits, load_page

TEMPLATES = Path(__file__).parent / "templates"
SESSION_SECONDS = 8 * 3600
LOGIN_ATTEMPTS, LOGIN_WINDOW_S = 5, 600
LOCAL_HOSTS = ("127.0.0.1", "localhost")  # the names the local page answers to (no password)
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), dklen=32, **_SCRYPT)
    return hmac.compare_digest(candidate.hex(), digest)


class SameOriginPosts:
    """Refuses a POST whose Origin (or, without one, Referer) names another host than the page's own."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "POST":
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            source = headers.get("origin") or headers.get("referer")
            if source and source != "null" and urlsplit(source).netloc != headers.get("host", ""):
                response = PlainTextResponse("refused: this form was sent from another site", status_code=403)
                await response(scope, receive, send)
                return
            if source == "null":  # a sandboxed or file:// page
                await PlainTextResponse("refused: form from an unknown origin", status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(
    data_dir: Path,
    warehouse: Warehouse | ShopWarehouse,
    password_hash: str | None = None,
    defs=None,
    instance=None,
    run_config: dict | None = None,
    session_seconds: int = SESSION_SECONDS,
    apply: bool = True,
    clock=time.time,
    shop: str = MAIN_SHOP,
) -> Starlette:
    """`defs`/`instance`: where corrections are applied (default: the code location and DAGSTER_HOME);
    `apply=False` only records them (the corrections sensor applies them later)."""
    data_dir = Path(data_dir)
    templates = Jinja2Templates(directory=str(TEMPLATES))
    log = CorrectionLog(data_dir)

    def execution():
        nonlocal defs, instance
        if defs is None:
            from watershop_dagster.definitions import defs as code_defs

            defs = code_defs
        if instance is None:
            import dagster as dg

            from watershop_dagster.cli import ensure_dagster_home

            ensure_dagster_home()
            instance = dg.DagsterInstance.get()
        return defs, instance

    def session_id(request: Request) -> str:
        if password_hash is None:
            return "web:local"
        return f"web:{request.session.get('sid', '?')}"

    def authorised(request: Request) -> bool:
        if password_hash is None:
            return True
        s = request.session
        return bool(s.get("sid")) and clock() - float(s.get("since", 0)) < session_seconds

    def labels() -> dict[str, str]:
        if not log.path.exists():
            return {}
        from watershop_dagster.identity_commands import _evidence

        evidence = _evidence(warehouse)
        out = {}
        for c in log.active():
            if c.kind == "label":
                for i in resolve_ids(c.anchors.get("id", []), evidence)[:1]:
                    out[i] = c.text
        return out

    async def index(request: Request) -> Response:
        page = load_page(warehouse, data_dir, labels())
        return templates.TemplateResponse(
            request,
            "index.html",
            {"page": page, "message": request.query_params.get("message", ""), "lan": password_hash is not None},
        )

    async def customer(request: Request) -> Response:
        cid = request.path_params["customer_id"]
        visits = customer_visits(warehouse, data_dir, cid)
        return templates.TemplateResponse(request, "customer.html", {"cid": cid, "visits": visits})

    async def corrections(request: Request) -> Response:
        return templates.TemplateResponse(request, "log.html", {"corrections": list(reversed(log.read()))})

    async def correct(request: Request) -> Response:
        from watershop_dagster.identity_commands import CorrectionRefused
        from watershop_dagster.identity_commands import correct as apply_correction

        form = await request.form()
        kind = str(form.get("kind", ""))
        ids = [i.strip() for i in str(form.get("ids", "")).split(",") if i.strip()]
        visits = [str(v) for v in form.getlist("visits") if v]
        code_defs, inst = execution() if apply else (None, None)
        try:
            applied = apply_correction(
                warehouse,
                data_dir,
                code_defs,
                inst,
                kind,
                ids,
                visits,
                str(form.get("text", "")),
                str(form.get("by", "") or "owner"),
                str(form.get("reason", "")),
                session_id(request),
                apply=apply,
                log=lambda _m: None,
                run_config=run_config,
                shop=shop,
            )
        except CorrectionRefused as exc:
            return RedirectResponse(f"/?{urlencode({'message': f'Refused: {exc}'})}", status_code=303)
        c = applied.correction
        message = f"{c.id}: {c.kind} {' '.join(c.ids)} done" + (f" (new ID {applied.new_id})" if applied.new_id else "")
        return RedirectResponse(f"/?{urlencode({'message': message})}", status_code=303)

    async def forget(request: Request) -> Response:
        """Erases one customer's biometric data (the forget_customer_job, as `watershop forget` runs it)."""
        form = await request.form()
        cid = str(form.get("customer_id", "")).strip()
        if form.get("confirm") != "yes":  # an erasure cannot be undone: one click is not enough
            message = f"Refused: tick that {cid} asked to be forgotten, then press Forget"
            return RedirectResponse(f"/?{urlencode({'message': message})}", status_code=303)
        from watershop_dagster.defs.privacy import ForgetConfig, run_forget

        code_defs, inst = execution()
        config = ForgetConfig(
            customer_id=cid,
            requested_by=f"owner ({session_id(request)})",
            reason=str(form.get("reason", "")),
            # a chain sharing identities: the ID is the same person in every shop, erased everywhere
            shop="" if identities_shared() else shop,
        )
        errors = run_forget(code_defs, inst, config)
        if errors:
            return RedirectResponse(f"/?{urlencode({'message': 'Refused: ' + '; '.join(errors)})}", status_code=303)
        message = f"forgot {cid}: faces, embeddings and crops erased; anonymous visits kept"
        return RedirectResponse(f"/?{urlencode({'message': message})}", status_code=303)

    async def files(request: Request) -> Response:
        """Crops and reports, only from under the data folder."""
        path = (data_dir / request.path_params["path"]).resolve()
        allowed = [(data_dir / "crops").resolve(), (data_dir / "reports").resolve()]
        if not any(path.is_relative_to(a) for a in allowed) or not path.is_file():
            return PlainTextResponse("not found", status_code=404)
        return FileResponse(path)

    async def reports(request: Request) -> Response:
        root = data_dir / "reports"
        daily = sorted((root / "daily").glob("*.html"), reverse=True) if (root / "daily").is_dir() else []
        monthly = sorted((root / "monthly").glob("*.html"), reverse=True) if (root / "monthly").is_dir() else []
        return templates.TemplateResponse(
            request, "reports.html", {"daily": [p.name for p in daily], "monthly": [p.name for p in monthly]}
        )

    failures: dict[str, deque[float]] = defaultdict(deque)  # client address -> times of wrong passwords

    async def login(request: Request) -> Response:
        if request.method == "POST":
            client = request.client.host if request.client else "?"
            recent = failures[client]
            while recent and clock() - recent[0] > LOGIN_WINDOW_S:
                recent.popleft()
            if len(recent) >= LOGIN_ATTEMPTS:
                wait = int(LOGIN_WINDOW_S - (clock() - recent[0])) + 1
                return PlainTextResponse(f"too many wrong passwords: try again in {wait} s", status_code=429)
            form = await request.form()
            if password_hash is not None and check_password(str(form.get("password", "")), password_hash):
                recent.clear()
                request.session.clear()
                request.session.update({"sid": secrets.token_hex(8), "since": clock()})
                return RedirectResponse("/", status_code=303)
            recent.append(clock())
            return templates.TemplateResponse(request, "login.html", {"error": True}, status_code=401)
        return templates.TemplateResponse(request, "login.html", {"error": False})

    async def logout(request: Request) -> Response:
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    class Guard:
        """Refuses every request but /login without a live session (only when a password is set)."""

        def __init__(self, app):
            self.app = app

        async def __call__(self, scope, receive, send):
            if scope["type"] == "http" and scope["path"] not in ("/login",):
                request = Request(scope, receive)
                if not authorised(request):
                    response = HTMLResponse('<p>Sign in first: <a href="/login">/login</a></p>', status_code=401)
                    await response(scope, receive, send)
                    return
            await self.app(scope, receive, send)

    middleware = [Middleware(SameOriginPosts)]
    if password_hash is None:
        # Without a password the page is for this machine only: a request naming another host is refused, so a
        # web page whose name re-resolves to 127.0.0.1 (DNS rebinding: its Origin and Host agree) cannot post.
        middleware.insert(0, Middleware(TrustedHostMiddleware, allowed_hosts=list(LOCAL_HOSTS)))
    if password_hash is not None:
        middleware += [
            Middleware(
                SessionMiddleware,
                secret_key=secrets.token_hex(32),
                max_age=session_seconds,
                same_site="strict",
                session_cookie="watershop_review",
            ),
            Middleware(Guard),
        ]
    routes = [
        Route("/", index),
        Route("/customer/{customer_id}", customer),
        Route("/log", corrections),
        Route("/correct", correct, methods=["POST"]),
        Route("/forget", forget, methods=["POST"]),
        Route("/files/{path:path}", files),
        Route("/reports", reports),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout),
    ]
    return Starlette(routes=routes, middleware=middleware)

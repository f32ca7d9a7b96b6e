"""What a share link serves, without credentials: one session, read-only, audio included.

``GET /share/<secret>`` is a page rendered here (no script, no console, no navigation,
nothing of the hub but this session's messages and their recordings) and
``GET /share/<secret>/audio/<id>`` plays a recording of that session only. Every answer,
errors included, says ``noindex``; the text is masked as privacy.mask says. An unknown or
revoked link is a 404, an expired one a 410.
"""

from __future__ import annotations

import html
import re
import secrets
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import HTMLResponse

from xiaozhi_server.api.audio import recording
from xiaozhi_server.domain import ChatType, decode_tool_content
from xiaozhi_server.services import Services, get_services
from xiaozhi_server.store import sessions as session_queries
from xiaozhi_server.store import shares
from xiaozhi_server.store.audio import get_audio
from xiaozhi_server.store.messages import session_messages

router = APIRouter(include_in_schema=False)
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
_AUDIO_ID = re.compile(r"^[^\x00/]{1,32}$")
NOINDEX = {"X-Robots-Tag": "noindex, nofollow, noarchive", "Cache-Control": "no-store"}
_TEXTS = {
    "zh": {
        "lang": "zh-CN",
        "untitled": "（无标题）",
        "1": "用户",
        "2": "助手",
        "3": "工具",
        "call": "调用工具",
        "result": "工具结果",
        "shared": "只读分享，{expires} 失效",
        "gone": "此分享链接已失效。",
        "missing": "没有这个分享链接（可能已被撤销）。",
    },
    "en": {
        "lang": "en",
        "untitled": "(untitled)",
        "1": "User",
        "2": "Agent",
        "3": "Tool",
        "call": "Tool call",
        "result": "Tool result",
        "shared": "Shared read-only until {expires}",
        "gone": "This share link has expired.",
        "missing": "There is no such share link (it may have been revoked).",
    },
}
_STYLE = (
    "body{margin:0 auto;max-width:760px;padding:1rem;font:16px/1.5 system-ui,sans-serif;"
    "color:#1b1f24}ol{list-style:none;padding:0;display:flex;flex-direction:column;gap:.6rem}"
    "li{max-width:85%;padding:.5rem .8rem;border-radius:12px;background:#f2f4f7}"
    "li.user{align-self:flex-end;background:#dff0ff}li.tool{align-self:center;"
    "background:#fff5d6;font-size:.9rem}.who{display:block;font-weight:600;font-size:.8rem;"
    "color:#57606a}.text{margin:.1rem 0;white-space:pre-wrap;overflow-wrap:anywhere}"
    "time,.meta{font-size:.8rem;color:#57606a}audio{display:block;max-width:100%}"
    "@media (prefers-color-scheme:dark){body{background:#0d1117;color:#e6edf3}"
    "li{background:#21262d}li.user{background:#0c2d48}li.tool{background:#3b2e00}}"
)


@router.get("/share/{token}", response_class=HTMLResponse)
async def shared_session(
    token: str,
    request: Request,
    services: Services = Depends(get_services),
    accept_language: str | None = Header(None),
) -> Response:
    """The shared session as a page."""
    texts = _TEXTS[_language(accept_language)]
    share = await _valid_share(services, token)
    if not isinstance(share, dict):
        return _page(texts, "", _notice(texts, share), status=share)
    session = await session_queries.get_session(services.store, share["session_id"])
    if session is None:
        return _page(texts, "", _notice(texts, 404), status=404)
    rows = await session_messages(services.store, share["session_id"])
    title = _masked(services, session["title"]) or texts["untitled"]
    expires = share["expires_at"].strftime("%Y-%m-%d %H:%M UTC")
    body = (
        f"<h1>{html.escape(title)}</h1>"
        f'<p class="meta">{html.escape(texts["shared"].format(expires=expires))}</p>'
        f'<ol class="conversation">{"".join(_item(services, texts, token, r) for r in rows)}</ol>'
    )
    return _page(texts, title, body)


@router.get("/share/{token}/audio/{audio_id}")
async def shared_audio(
    token: str,
    audio_id: str,
    services: Services = Depends(get_services),
    range_: str | None = Header(None, alias="range", max_length=100),
) -> Response:
    """A recording of the shared session (byte ranges as /api/v2/audio serves them)."""
    share = await _valid_share(services, token)
    if not isinstance(share, dict):
        return Response(status_code=share, headers=NOINDEX)
    if not _AUDIO_ID.match(audio_id) or not await shares.audio_in_session(
        services.store, share["session_id"], audio_id
    ):
        return Response(status_code=404, headers=NOINDEX)
    row = await get_audio(services.store, audio_id)
    if row is None:
        return Response(status_code=404, headers=NOINDEX)
    answer = recording(row, range_)
    answer.headers.update(NOINDEX)
    return answer


async def _valid_share(services: Services, token: str) -> dict[str, Any] | int:
    """The share behind ``token``, or the status to answer: 404 unknown, 410 expired."""
    if not _TOKEN.match(token):
        return 404
    share = await shares.find(services.store, token)
    if share is None:
        return 404
    return 410 if share["expires_at"] <= datetime.now(UTC) else share


def _language(header: str | None) -> str:
    first = (header or "").split(",")[0].strip().lower()
    return "zh" if first.startswith("zh") else "en"


def _masked(services: Services, text: str | None) -> str | None:
    return services.masker.optional(text) if services.masker else text


def _item(services: Services, texts: dict[str, str], token: str, row: dict[str, Any]) -> str:
    kind = {ChatType.USER: "user", ChatType.AGENT: "agent"}.get(row["chat_type"], "tool")
    content = _masked(services, row["content"]) or ""
    if row["chat_type"] == ChatType.TOOL:
        content = _tool_line(texts, content)
    moment = row["created_at"].astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    audio = ""
    if row["audio_id"]:
        source = f"/share/{token}/audio/{quote(row['audio_id'], safe='')}"
        audio = f'<audio controls preload="none" src="{html.escape(source)}"></audio>'
    return (
        f'<li class="{kind}"><span class="who">{html.escape(texts[str(row["chat_type"])])}</span>'
        f'<p class="text">{html.escape(content)}</p>'
        f'<time datetime="{row["created_at"].isoformat()}">{moment}</time>{audio}</li>'
    )


def _tool_line(texts: dict[str, str], content: str) -> str:
    tool = decode_tool_content(content)
    if tool is None:
        return content
    if tool.get("kind") == "call":
        return f"{texts['call']}: {tool.get('name', '')}"
    return texts["result"]


def _notice(texts: dict[str, str], status: int) -> str:
    return f"<p>{html.escape(texts['gone' if status == 410 else 'missing'])}</p>"


def _page(texts: dict[str, str], title: str, body: str, status: int = 200) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    document = (
        f'<!doctype html><html lang="{texts["lang"]}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex, nofollow">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{html.escape(title or 'xiaozhi')}</title>"
        f'<style nonce="{nonce}">{_STYLE}</style></head><body>{body}</body></html>'
    )
    policy = (
        f"default-src 'none'; style-src 'nonce-{nonce}'; media-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    headers = NOINDEX | {"Content-Security-Policy": policy}
    return HTMLResponse(document, status_code=status, headers=headers)

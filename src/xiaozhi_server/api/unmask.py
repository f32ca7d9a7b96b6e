"""Masked or as stored: every route that returns chat text asks ``content_masking``.

Readers get text masked as ``privacy.mask`` says. An admin may pass ``unmask=true`` for
the text as stored; each such request is recorded in the audit trail (``unmask``, with the
path and its filters, never the text). A viewer asking for it gets 403.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request

from xiaozhi_server.auth.guard import Principal, client_address, forbidden, require_reader
from xiaozhi_server.privacy.masking import Masker
from xiaozhi_server.privacy.unmasking import record_unmask
from xiaozhi_server.services import Services, get_services

# Filters worth recording with an unmask (search text is not: it may be the value itself).
_RECORDED = ("device", "agent", "session", "from", "to", "format", "chat_type", "tz")

Unmask = Annotated[
    bool,
    Query(
        description="admins only: chat text as stored, not masked by privacy.mask "
        "(each such request is recorded in the audit trail); a viewer gets 403"
    ),
]


async def content_masking(
    request: Request,
    unmask: Unmask = False,
    principal: Principal = Depends(require_reader),
    services: Services = Depends(get_services),
) -> Masker | None:
    """The masker for this request's answer, or None for text as stored."""
    if not unmask:
        return services.masker or None
    if not principal.may("unmask"):
        raise forbidden(principal, "admin", "unmask")
    if services.masker:
        actor = (principal.name, principal.kind)
        address, path = client_address(request), request.url.path
        await record_unmask(
            services.store, services.masker, actor, address, path, _filters(request)
        )
    return None


def _filters(request: Request) -> dict[str, Any]:
    params = request.query_params
    return {name: params[name] for name in _RECORDED if name in params}

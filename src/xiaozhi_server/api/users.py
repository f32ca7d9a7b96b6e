"""User management for admins: list, add, change role or password, remove.

Each change is recorded in the audit trail (auth/users.py); the last admin can be neither
removed nor made a viewer (409), so someone can always manage users from the console.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import AfterValidator, BaseModel, Field, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from xiaozhi_server.api.contract import ADMIN, errors
from xiaozhi_server.api.errors import ApiError
from xiaozhi_server.api.schemas import RemovedUser, User, UserList
from xiaozhi_server.auth import users
from xiaozhi_server.auth.guard import Principal, client_address, require_admin
from xiaozhi_server.auth.roles import Role
from xiaozhi_server.services import Services, get_services
from xiaozhi_server.store import admins

router = APIRouter(prefix="/api/v2", tags=["users"], dependencies=ADMIN)

_PASSWORD = Field(
    min_length=users.MIN_PASSWORD,
    max_length=users.MAX_PASSWORD,
    description=f"{users.MIN_PASSWORD} to {users.MAX_PASSWORD} characters",
)


def _acceptable_name(value: str) -> str:
    problem = users.name_problem(value)
    if problem is not None:
        raise PydanticCustomError("user_name", problem)
    return value


def _no_nul(value: str | None) -> str | None:
    if value is not None and "\x00" in value:
        raise PydanticCustomError("nul_character", "must not contain NUL characters")
    return value


UserName = Annotated[
    str,
    AfterValidator(_acceptable_name),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": users.MAX_NAME,
            "pattern": users.NAME_PATTERN,
            "description": "no ':', no control characters, no spaces at either end",
        }
    ),
]
UserPath = Annotated[
    str,
    Path(min_length=1, max_length=users.MAX_NAME, pattern="^[^\\u0000]*$"),
    AfterValidator(_no_nul),
]
Password = Annotated[str, _PASSWORD, AfterValidator(_no_nul)]


class NewUser(BaseModel):
    """A user to add."""

    username: UserName
    role: Role
    password: Password


class UserChange(BaseModel):
    """A new role, a new password, or both (a new password ends the user's sessions)."""

    role: Role | None = None
    password: Annotated[str | None, _PASSWORD, AfterValidator(_no_nul)] = None

    @model_validator(mode="after")
    def _something(self) -> UserChange:
        if self.role is None and self.password is None:
            raise ValueError("give role, password or both")
        return self


def _actor(principal: Principal, request: Request) -> users.Actor:
    return users.Actor(principal.name, principal.kind, client_address(request))


def _refused(exc: users.UserError | users.LastAdmin) -> ApiError:
    if isinstance(exc, users.LastAdmin):
        return ApiError(409, str(exc))
    if exc.kind in ("bad_name", "bad_password"):
        parameter = "username" if exc.kind == "bad_name" else "password"
        return ApiError(400, str(exc), parameter)
    return ApiError(409 if exc.kind == "exists" else 404, str(exc))


@router.get("/users", response_model=UserList)
async def list_users(services: Services = Depends(get_services)) -> dict[str, Any]:
    """Every user by name, with role and times (never a password or its hash)."""
    return {"items": await admins.list_users(services.store)}


@router.post(
    "/users",
    response_model=User,
    status_code=201,
    responses=errors(400, 409),
)
async def add_user(
    new: NewUser,
    request: Request,
    services: Services = Depends(get_services),
    principal: Principal = Depends(require_admin),
) -> dict[str, Any]:
    """Add a user with a role and a password; 409 if the name is taken."""
    try:
        return await users.add(
            services.store, new.username, new.role, new.password, _actor(principal, request)
        )
    except users.UserError as exc:
        raise _refused(exc) from None


@router.patch(
    "/users/{username}",
    response_model=User,
    responses=errors(400, 404, 409, not_found="No user with this name."),
)
async def change_user(
    username: UserPath,
    change: UserChange,
    request: Request,
    services: Services = Depends(get_services),
    principal: Principal = Depends(require_admin),
) -> dict[str, Any]:
    """Change the role (409 for the last admin) and/or the password (sessions end)."""
    actor = _actor(principal, request)
    try:
        user = await _change_role(services, username, change.role, actor)
        if change.password is not None:
            user = await users.change_password(services.store, username, change.password, actor)
    except (users.UserError, users.LastAdmin) as exc:
        raise _refused(exc) from None
    return user


async def _change_role(
    services: Services, username: str, role: Role | None, actor: users.Actor
) -> dict[str, Any]:
    if role is None:
        found = await admins.get_user(services.store, username)
        if found is None:
            raise users.UserError("unknown", f"no user {username!r}")
        return found
    return await users.change_role(services.store, username, role, actor)


@router.delete(
    "/users/{username}",
    response_model=RemovedUser,
    responses=errors(400, 404, 409, not_found="No user with this name."),
)
async def remove_user(
    username: UserPath,
    request: Request,
    services: Services = Depends(get_services),
    principal: Principal = Depends(require_admin),
) -> dict[str, str]:
    """Remove the user and end their sessions; 409 for the last admin."""
    try:
        await users.remove(services.store, username, _actor(principal, request))
    except (users.UserError, users.LastAdmin) as exc:
        raise _refused(exc) from None
    return {"removed": username}

"""API keys of the calling tenant."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.orm import Session

from innsync.api.deps import Admin, Db
from innsync.properties.schemas import reject_nul
from innsync.tenants import service

router = APIRouter(tags=["api keys"])


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    scopes: list[str] = Field(min_length=1, examples=[["read", "write"]])
    expires_at: AwareDatetime | None = Field(
        default=None, description="When the key stops working; omitted: it never expires"
    )

    _name = field_validator("name")(reject_nul)


class KeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None
    expires_at: datetime | None


class KeyCreated(KeyRead):
    key: str = Field(description="Shown once; store it now")


@router.post("/api-keys", status_code=status.HTTP_201_CREATED)
async def create_key(data: KeyCreate, db: Db, who: Admin) -> KeyCreated:
    """Issue an API key with the given scopes; the secret is in this answer only."""

    def create(session: Session) -> KeyCreated:
        issued = service.issue_key(
            session, who.tenant_id, data.name, data.scopes, expires_at=data.expires_at
        )
        return KeyCreated(**KeyRead.model_validate(issued.key).model_dump(), key=issued.secret)

    return await db.write(create)


@router.get("/api-keys")
async def list_keys(db: Db, who: Admin) -> list[KeyRead]:
    """The tenant's API keys (prefixes, scopes, last use), never their secrets."""
    return await db.read(
        lambda s: [KeyRead.model_validate(key) for key in service.list_keys(s, who.tenant_id)]
    )


@router.delete("/api-keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_key(key_id: uuid.UUID, db: Db, who: Admin) -> None:
    """Revoke an API key at once."""
    await db.write(lambda s: service.revoke_key(s, who.tenant_id, key_id))

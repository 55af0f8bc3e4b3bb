"""Matching's own settings, read from the environment."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .domain.rooms import check_room_template


class MatchingSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    # A remote meeting's room: this template with {meeting_id} made the meeting's private room
    # name (its id and a key only this region's matching can make, so that the ids the shared
    # schedules carry do not open the rooms). Unset: remote meetings get no link.
    meeting_room_url: str | None = Field(
        default=None,
        validation_alias="MAPNET_MEETING_ROOM_URL",
        description="e.g. https://meet.jit.si/mapnet-{meeting_id}",
    )

    @field_validator("meeting_room_url")
    @classmethod
    def _room_template(cls, value: str | None) -> str | None:
        return check_room_template(value) if value else None

"""The portal's accounts put together once: for the web app, the command line and the demo."""

from __future__ import annotations

from mapnet.runtime import mongo
from mapnet.runtime.settings import Settings

from ..adapters import passwords
from ..adapters.store import PortalStore
from ..service_layer.accounts import Accounts


def accounts_on(store: PortalStore, session_hours: float = 12.0) -> Accounts:
    return Accounts(store, passwords.hashed, passwords.verified, session_hours)


def region_accounts(region: str | None) -> tuple[Accounts, str]:
    """A region's portal accounts from outside its process (the first region if none is
    named), in the database `mapnet up` runs for it; and the region's id."""
    url, home = Settings().mongo_url_for(region)
    return accounts_on(PortalStore(mongo.database(mongo.client(url), home, "portal"))), home

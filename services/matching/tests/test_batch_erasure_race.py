"""A batch of network copies and an erasure handled meanwhile by its own consumer (the hostile
review of issue 33): the erasure is not undone."""

from __future__ import annotations

from typing import Any

from mapnet.runtime import mongo
from services.matching.adapters.read_model import ReadModel
from services.matching.tests.test_read_copies import REF, held, shared
from tests.fixtures import Servers, unique_region


async def test_an_erasure_handled_while_a_batch_of_shares_is_written_is_not_undone(
    servers: Servers,
) -> None:
    """The batch reads the tombstones once, then writes. The SME_ERASED consumer (another
    consumer, running concurrently) erases one of the batch's SMEs after that read: the batch
    inserts the SME and its profiles afterwards, and the erased SME's copy stays for good."""
    model = ReadModel(mongo.database(mongo.client(servers.mongo_url), unique_region(), "matching"))
    real = model.smes

    class ErasedMeanwhile:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        async def insert_many(self, docs: Any, **kwargs: Any) -> Any:
            await model.erase_sme(REF)  # the erasure lands between the read and the write
            return await real.insert_many(docs, **kwargs)

    model.smes = ErasedMeanwhile()  # type: ignore[assignment]
    others: list[tuple[dict[str, Any], list[Any]]] = [
        ({**shared(1)[0], "sme_id": f"o{n}", "legal_name": f"o{n}"}, []) for n in range(3)
    ]
    await model.put_shared_many([shared(2, "a"), *others])
    model.smes = real
    assert await held(model) == (None, []), "the erased SME's copy came back"

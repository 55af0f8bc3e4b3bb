"""Staff import a file of SMEs in the browser: the upload is kept in a temporary file, read row
by row as the command line reads it (the same format, `contracts.registry_file`), each row sent
as one register_sme acting for the person who uploaded it; the page shows a progress bar and
each rejected row with its line and reason while it runs."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from contracts import registry as rg
from contracts import registry_file
from contracts.access import STAFF
from contracts.errors import Refused
from mapnet.runtime import importer

from ..domain.users import User
from .forms import csrf_matches, posted
from .i18n import tr

if TYPE_CHECKING:
    from .pages import Pages
    from .web import Portal

MAX_UPLOAD = 100 * 1024 * 1024
KEPT_JOBS = 20
SHOWN_REJECTIONS = 500


@dataclass
class ImportJob:
    job_id: str
    by: str
    file_name: str
    total: int | None
    done: int = 0
    loaded: int = 0
    # Only the first SHOWN_REJECTIONS rejected rows are kept (a large file of bad rows would
    # otherwise hold every one of them, in each of KEPT_JOBS jobs); all of them are counted.
    rejected: list[tuple[int, str]] = field(default_factory=list)
    rejected_count: int = 0
    notes: list[str] = field(default_factory=list)
    finished: bool = False
    failure: str = ""

    @property
    def percent(self) -> int:
        if self.finished:
            return 100
        return min(99, int(100 * self.done / self.total)) if self.total else 0


class ImportPages:
    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.jobs: dict[str, ImportJob] = {}
        self.running: set[asyncio.Task[None]] = set()

    async def form(self, request: Request, person: User) -> Response:
        return self.portal.page(request, "import.html", person=person, job=None, error=None)

    async def upload(self, request: Request, person: User) -> Response:
        # The form's token is in its address too, checked before up to 100 MB are read.
        if not csrf_matches(request, request.query_params.get("csrf")):
            raise Refused(
                "forbidden", tr("the form has expired: reload the page and send it again")
            )
        form = await posted(request)
        upload = form.get("file")

        def refused(status: int, error: str) -> Response:
            return self.portal.page(request, "import.html", status, person=person, job=None,
                                    error=error)  # fmt: skip

        if upload is None or not getattr(upload, "filename", ""):
            return refused(400, tr("choose a .csv, .json or .jsonl file"))
        suffix = Path(upload.filename).suffix.lower()
        if suffix not in (".csv", ".json", ".jsonl", ".ndjson"):
            return refused(400, tr("the file must end in .csv, .json or .jsonl"))
        path = await _kept(upload, suffix)
        if path is None:
            return refused(413, tr("the file is larger than 100 MB"))
        lines = await asyncio.to_thread(importer.count_lines, path)
        total = None if lines is None else max(0, lines - (1 if suffix == ".csv" else 0))
        job = ImportJob(str(uuid.uuid4()), person.email, upload.filename, total)
        self.jobs[job.job_id] = job
        for old in list(self.jobs)[:-KEPT_JOBS]:
            del self.jobs[old]
        task = asyncio.create_task(self._run(job, path, person))
        self.running.add(task)
        task.add_done_callback(self.running.discard)
        return RedirectResponse(f"/smes/import/{job.job_id}", status_code=303)

    async def _run(self, job: ImportJob, path: Path, person: User) -> None:
        async def register(row: dict[str, Any]) -> str:
            sme = rg.RegisterSme.model_validate(row)
            view = await self.portal.call(
                rg.REGISTER_SME, sme, person.actor(), id=registry_file.command_id(sme)
            )
            job.loaded += 1
            return str(view.sme_id)

        def advanced() -> None:
            job.done += 1

        def rejected(line: int, reason: str) -> None:
            job.rejected_count += 1
            if len(job.rejected) < SHOWN_REJECTIONS:
                job.rejected.append((line, reason))

        try:
            rows = importer.read_rows(path, registry_file.csv_row, job.notes)
            await importer.load(rows, register, advanced, rejected)
        except Exception as exc:  # shown on the page: the upload must not just stop
            job.failure = f"the import stopped: {exc}"
            self.portal.log.exception("import_failed", job=job.job_id)
        finally:
            job.finished = True
            await asyncio.to_thread(path.unlink, missing_ok=True)

    async def progress(self, request: Request, person: User) -> Response:
        job = self.jobs.get(request.path_params["job_id"])
        if job is None or job.by != person.email:
            raise Refused(
                "not_found", tr("no such import of yours (imports are kept while the portal runs)")
            )
        part = "import_progress.html" if request.headers.get("HX-Request") else "import.html"
        return self.portal.page(request, part, person=person, job=job, error=None)


async def _kept(upload: Any, suffix: str) -> Path | None:
    """The upload in a temporary file, or None (and no file) when it is larger than allowed."""
    with tempfile.NamedTemporaryFile(prefix="mapnet-import-", suffix=suffix, delete=False) as f:
        path, size = Path(f.name), 0
        while chunk := await upload.read(1 << 20):
            size += len(chunk)
            if size > MAX_UPLOAD:
                break
            await asyncio.to_thread(f.write, chunk)
    if size > MAX_UPLOAD:
        await asyncio.to_thread(path.unlink, missing_ok=True)
        return None
    return path


def add_routes(app: FastAPI, portal: Portal, pages: Pages) -> None:
    imports = ImportPages(portal)
    app.state.imports = imports  # its jobs, for a test to see what one holds
    pages.get(app, "/smes/import", imports.form, *STAFF)
    pages.post(app, "/smes/import", imports.upload, *STAFF)
    pages.get(app, "/smes/import/{job_id}", imports.progress, *STAFF)

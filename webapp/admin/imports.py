"""Import page: upload an mbox file or a zip of a Maildir into an account, with progress.

Implementation notes:
- The upload is streamed to a file under ``<data folder>/uploads/`` (never held whole in
  memory): with JavaScript the browser sends the file as the raw request body
  (static/admin-collect.js shows its upload progress); without it, the multipart form is
  parsed by Starlette, which spools the file to disk, and it is copied in chunks.
- The file is checked before anything is imported: a zip is unpacked (names that would land
  outside its folder are refused) and must hold a Maildir; anything else must look like an
  mbox file. A refusal is one line next to the file field.
- The import runs as a task of this server (``mailstore.importer``; parsing in spawned
  worker processes, so the server keeps answering). Its progress lives in this process:
  the job page polls the node that runs it (a load balancer must keep the admin on one node,
  as it does for the upload). Counts shown are committed counts.
- The temporary files are removed when the import ends, whatever the outcome.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import re
import secrets
import shutil
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from mailstore.audit import Actor
from mailstore.errors import NotFound, StoreError
from mailstore.importer import ImportReport, import_mailbox
from mailstore.mailboxes import NotAMailbox, count_messages, detect
from mailstore.names import normalise_folder
from mailstore.store import Store
from webapp.admin.guard import actor
from webapp.admin.pages import done, page, store
from webapp.views.errors import error_page

SECTION = "/admin/import"
CHUNK = 1 << 20
JOBS_KEPT = 50  # finished imports listed on the page (in this process's memory)
NOT_MAILBOX = "This file is neither an mbox file nor a zip of a Maildir"


@dataclass
class ImportJob:
    id: str
    address: str
    folder: str
    filename: str
    size: int
    started_at: int
    total: int = 0
    report: ImportReport = field(default_factory=ImportReport)
    state: str = "running"  # running, done, failed
    error: str = ""
    finished_at: int | None = None
    task: asyncio.Task[None] | None = None

    @property
    def processed(self) -> int:
        return self.report.imported + self.report.skipped_total

    @property
    def percent(self) -> int:
        if self.state == "done":
            return 100
        return min(99, self.processed * 100 // self.total) if self.total else 0


def _jobs(request: Request) -> dict[str, ImportJob]:
    jobs = getattr(request.app.state, "import_jobs", None)
    if jobs is None:
        jobs = request.app.state.import_jobs = {}
    return jobs


def uploads_folder(s: Store) -> Path:
    """In the data folder (beside blobs/): large uploads are on the same disk as the mail."""
    return s.blobs.root.parent / "uploads"


async def _addresses(request: Request) -> list[str]:
    return [a.address for a in await store(request).accounts.list()]


async def _form_page(request: Request, values: dict[str, str], errors: dict[str, str],
                     status: int = 200) -> Response:
    jobs = sorted(_jobs(request).values(), key=lambda j: j.started_at, reverse=True)
    return page(request, "admin/import.html", SECTION, status=status, values=values,
                errors=errors, addresses=await _addresses(request), jobs=jobs[:20])


async def show(request: Request) -> Response:
    if request.method == "GET":
        return await _form_page(request, {"folder": "INBOX", "account": ""}, {})
    return await upload(request)


async def upload(request: Request) -> Response:
    s = store(request)
    raw = request.headers.get("content-type", "").startswith("application/octet-stream")
    if raw:  # from admin-collect.js: the file is the body, the fields are in the query
        fields = request.query_params
        upload_file: UploadFile | None = None
        filename = fields.get("filename", "upload")
    else:
        form = await request.form()
        fields = form  # type: ignore[assignment]
        got = form.get("file")
        upload_file = got if isinstance(got, UploadFile) else None
        filename = upload_file.filename if upload_file and upload_file.filename else "upload"
    values = {"account": str(fields.get("account", "")).strip(),
              "folder": str(fields.get("folder", "") or "INBOX").strip()}
    errors: dict[str, str] = {}
    account = None
    try:
        account = await s.accounts.get(values["account"])
    except (NotFound, StoreError):
        errors["account"] = "choose the account the mail goes into"
    try:
        values["folder"] = normalise_folder(values["folder"])
    except StoreError as exc:
        errors["folder"] = str(exc)
    job_id = secrets.token_urlsafe(12)
    work = uploads_folder(s) / job_id
    work.mkdir(parents=True, exist_ok=True)
    target = work / "upload"
    try:
        size = await _save(request, upload_file, target) if raw or upload_file else 0
        if size == 0:
            errors["file"] = "choose an mbox file or a zip of a Maildir to upload"
        elif not errors:
            source = await asyncio.to_thread(_mailbox_in, target, work)
            total = await asyncio.to_thread(count_messages, source)
    except NotAMailbox as exc:
        errors["file"] = str(exc)
    if errors or account is None:
        shutil.rmtree(work, ignore_errors=True)
        return await _form_page(request, values, errors, status=400)
    job = ImportJob(job_id, account.address, values["folder"], PurePosixPath(filename).name,
                    size, int(time.time()), total=total)
    who = actor(request)
    await s.audit.record(who, "import.start", f"account {account.address}",
                         new={"file": job.filename, "bytes": size, "folder": job.folder})
    job.task = asyncio.create_task(_run(s, job, account.id, source, work, who))
    jobs = _jobs(request)
    jobs[job_id] = job
    finished = sorted((j for j in jobs.values() if j.state != "running"),
                      key=lambda j: j.started_at)
    for old in finished[:max(0, len(jobs) - JOBS_KEPT)]:
        del jobs[old.id]
    return done(f"{SECTION}/{job_id}", f"Upload of {job.filename} received; importing.")


async def _save(request: Request, upload_file: UploadFile | None, target: Path) -> int:
    """Stream the upload to ``target`` in chunks; its size."""
    size = 0
    with target.open("wb") as out:
        if upload_file is None:
            async for chunk in request.stream():
                out.write(chunk)
                size += len(chunk)
        else:
            while chunk := await upload_file.read(CHUNK):
                out.write(chunk)
                size += len(chunk)
    return size


def _mailbox_in(path: Path, work: Path) -> Path:
    """The mbox file itself, or the Maildir unpacked from the zip; NotAMailbox otherwise."""
    if zipfile.is_zipfile(path):
        root = work / "maildir"
        _unzip(path, root)
        path.unlink()
        for _ in range(3):  # a zip of "Maildir/" holds the Maildir one level down
            entries = list(root.iterdir())
            if len(entries) == 1 and entries[0].is_dir() and not (root / "cur").is_dir():
                root = entries[0]
        try:
            detect(root)
        except NotAMailbox:
            raise NotAMailbox("The zip file holds no Maildir (no cur/ and new/ folders "
                              "inside it or in a subfolder)") from None
        return root
    try:
        detect(path)
    except NotAMailbox as exc:
        reason = str(exc).replace(str(path), "the file")
        why = re.search(r"\(([^()]*)\)$", reason)  # "… (no 'From ' line at the start)"
        raise NotAMailbox(f"{NOT_MAILBOX} ({why.group(1)})" if why
                          else f"{NOT_MAILBOX}: {reason}") from None
    return path


def _unzip(path: Path, root: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.infolist():
                name = PurePosixPath(member.filename)
                if name.is_absolute() or ".." in name.parts:
                    raise NotAMailbox(f"The zip file names a file outside its folder "
                                      f"({member.filename}); it cannot be imported")
                dest = root.joinpath(*name.parts)
                if member.is_dir():
                    dest.mkdir(parents=True, exist_ok=True)
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as src, dest.open("wb") as out:
                    shutil.copyfileobj(src, out, CHUNK)
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError) as exc:
        raise NotAMailbox(f"The zip file cannot be read: {exc}") from None


async def _run(s: Store, job: ImportJob, account_id: int, source: Path, work: Path,
               who: Actor) -> None:
    def progress(report: ImportReport) -> None:
        job.report = report

    state, error = "done", ""
    try:
        job.report = await import_mailbox(
            s, account_id, source, job.folder, progress, workers=2,
            mp_context=multiprocessing.get_context("spawn"))
    except (NotAMailbox, StoreError, OSError) as exc:
        state, error = "failed", str(exc)
    except Exception as exc:  # never a traceback on the page
        state, error = "failed", f"internal error: {type(exc).__name__}: {exc}"
    finally:
        shutil.rmtree(work, ignore_errors=True)
    try:
        await s.audit.record(who, "import.finish", f"account {job.address}", new={
            "file": job.filename, "imported": job.report.imported,
            "skipped": job.report.skipped_total, "error": error or None})
    finally:  # the page shows the end only once it is recorded
        job.error, job.finished_at, job.state = error, int(time.time()), state


def _context(job: ImportJob) -> dict[str, Any]:
    return {"job": job, "skipped": sorted(job.report.skipped.items())}


async def job_page(request: Request) -> Response:
    job = _jobs(request).get(request.path_params["job"])
    if job is None:
        return error_page(request, 404, "There is no such import here (imports are listed "
                          "on the server that ran them, until it restarts).")
    return page(request, "admin/import_job.html", SECTION, **_context(job))


async def progress(request: Request) -> Response:
    job = _jobs(request).get(request.path_params["job"])
    if job is None:
        return error_page(request, 404, "There is no such import here.")
    return page(request, "admin/_import_progress.html", SECTION, **_context(job))


ROUTES = [
    (SECTION, show, ["GET", "POST"]),
    (SECTION + "/{job}", job_page, ["GET"]),
    (SECTION + "/{job}/progress", progress, ["GET"]),
]

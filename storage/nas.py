"""The ``nas`` sidecar: disk semantics on a mounted share, bounded in time.

A network share can be slow, or hang outright (a hard NFS mount blocks system calls until the
server answers). A write that the other sidecars can satisfy must not wait for it, so every file
operation here gets a budget — ``timeout`` seconds plus ``per_mib`` seconds per MiB it moves —
and raises ``Stalled`` (a ``StorageError``) when the budget runs out; other ``OSError``\\ s become
``StorageError`` too.

A blocked system call cannot be cancelled, so the work runs on daemon threads of this sidecar
(never the event loop's default executor, which a hung share would otherwise fill up and stall
every other sidecar and the API with it). At most ``threads`` of them run at once: once that many
are stuck, further operations wait for a slot within their own budget and then fail fast. Daemon
threads also never keep a process from exiting.

Unlike ``disk``, the root is never created: it must exist on the share (use a directory below
the mount point), so an unmounted share fails loudly instead of filling the local disk under its
mount point.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from storage.base import Health, Stalled, StorageError
from storage.disk import DiskSidecar

MIB = 1024 * 1024
T = TypeVar("T")


class NasSidecar(DiskSidecar):
    kind = "nas"
    local = True  # ``path`` is readable, but a reader using it directly is not time-bounded
    writes_inline = False  # every call on a share is time-bounded, on a thread

    def __init__(
        self,
        name: str,
        root: Path | str,
        *,
        timeout: float = 10.0,
        per_mib: float = 2.0,
        threads: int = 16,
    ) -> None:
        self.timeout = timeout
        self.per_mib = per_mib
        self.threads = threads
        self._slots: asyncio.Semaphore | None = None
        self._slots_loop: asyncio.AbstractEventLoop | None = None
        # syncfs would flush the whole share on every small write, and GroupSync runs on the
        # default executor: plain per-file fsync, inside our own budget, suits a share better.
        super().__init__(name, root, group_commit=False)

    def _prepare(self) -> None:
        pass  # touching the share here could hang the process at start-up

    async def _io(
        self,
        fn: Callable[..., T],
        *args: Any,
        nbytes: int = 0,
        abandon: Callable[[T | None], object] | None = None,
    ) -> T:
        try:
            return await self._bounded(
                fn, args, self.timeout + self.per_mib * nbytes / MIB, abandon
            )
        except StorageError:
            raise
        except OSError as exc:  # ETIMEDOUT from the share lands here too, not as our Stalled
            raise StorageError(f"{self.name}: {exc}") from exc

    async def _bounded(
        self,
        fn: Callable[..., T],
        args: tuple[Any, ...],
        budget: float,
        abandon: Callable[[T | None], object] | None,
    ) -> T:
        """``fn(*args)`` on a daemon thread; Stalled after ``budget`` seconds. If the caller
        gives up (budget, cancellation), ``abandon`` runs on that thread once ``fn`` returns."""
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots_loop is not loop:
            # Slots are handed back through the loop that lent them: one set per loop.
            self._slots, self._slots_loop = asyncio.Semaphore(self.threads), loop
        slots = self._slots
        outcome: asyncio.Future[T] = loop.create_future()
        lock = threading.Lock()
        state = {"delivered": False, "abandoned": False}

        def settle(result: T, error: BaseException | None) -> None:
            slots.release()
            if outcome.done():
                return
            if error is not None:
                outcome.set_exception(error)
            else:
                outcome.set_result(result)

        def run() -> None:
            result: Any = None
            error: BaseException | None = None
            try:
                result = fn(*args)
            except BaseException as exc:
                error = exc
            with lock:
                state["delivered"] = not state["abandoned"]
            if not state["delivered"] and abandon is not None:
                with contextlib.suppress(Exception):
                    abandon(result)
            with contextlib.suppress(RuntimeError):  # the loop may be closed by now
                loop.call_soon_threadsafe(settle, result, error)

        def give_up() -> bool:
            """True if the caller now abandons the call; False if its result is on its way."""
            with lock:
                state["abandoned"] = not state["delivered"]
                return state["abandoned"]

        deadline = asyncio.timeout(budget)
        try:
            async with deadline:
                await slots.acquire()
                try:
                    threading.Thread(target=run, name=f"nas-{self.name}", daemon=True).start()
                except RuntimeError as exc:  # no thread to be had: the slot is not in use
                    slots.release()
                    raise StorageError(f"{self.name}: {exc}") from exc
                return await asyncio.shield(outcome)
        except TimeoutError:
            if not deadline.expired():
                raise  # the operation's own TimeoutError (an OSError)
            if not give_up():  # it finished just as the budget ran out: take the result
                return await outcome
            what = getattr(fn, "__name__", "operation")
            raise Stalled(
                f"{self.name}: {what} on {self.root} took longer than {budget:.1f}s"
            ) from None
        except asyncio.CancelledError:
            give_up()
            raise

    # The share's root must exist: an absent one means the share is not mounted.

    def _mounted(self) -> None:
        if not self.root.is_dir():
            raise StorageError(f"{self.name}: {self.root} is not there (share not mounted?)")

    def _probe(self) -> Health:
        self._mounted()
        return super()._probe()

    def _ensure_dirs(self, directory: Path) -> None:
        if directory not in self._made:
            self._mounted()  # mkdir(parents=True) would otherwise recreate it on the local disk
        super()._ensure_dirs(directory)

    def _open(self, path: Path) -> BinaryIO:
        try:
            return super()._open(path)
        except StorageError:
            self._mounted()  # "not mounted" is a failure, not a missing blob
            raise

    def _exists(self, path: Path) -> bool:
        if path.exists():
            return True
        self._mounted()
        return False

    def _unlink(self, path: Path) -> None:
        self._mounted()  # a delete "done" on an unmounted share would leave the blob behind
        super()._unlink(path)

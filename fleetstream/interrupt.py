"""Ctrl-C for long commands: the first asks for a clean stop, the second stops at once.

:class:`CtrlC` (a context manager, main thread only) blocks SIGINT in the threads
started inside it (the Bytewax workers inherit the mask, and so do processes such as
the solver pool's forkserver) and waits for it in a small watcher thread with
``sigtimedwait``: the signal is taken whatever the main thread is doing (a Bytewax
run in Rust code, a lock, a sleep).  A Python-level handler does the same for a
SIGINT delivered to a thread started before (a metrics server, for example).
The multiprocessing resource tracker is started first: started later, it unblocks
SIGINT in the thread that starts it (the standard library does so), and the solver
pool would then take a terminal Ctrl-C itself and break.

- first SIGINT: ``stop`` is set (the replay source stops reading; the flow finishes
  what it has; outputs and summary are written, marked as interrupted), with one
  line on stderr;
- second SIGINT: the registered hard-stop hooks run (stop child processes by pid,
  remove a half-written output file), one line, and the process exits with 130.
"""

from __future__ import annotations

import _thread
import os
import signal
import sys
import threading
from typing import Callable

EXIT_INTERRUPTED = 130

_HOOKS: list[Callable[[], None]] = []
_HOOKS_LOCK = threading.Lock()


def on_hard_stop(fn: Callable[[], None]) -> Callable[[], None]:
    """Run ``fn`` if the process is stopped at once (second Ctrl-C); returns a function
    that unregisters it."""
    with _HOOKS_LOCK:
        _HOOKS.append(fn)

    def remove() -> None:
        with _HOOKS_LOCK:
            if fn in _HOOKS:
                _HOOKS.remove(fn)
    return remove


class CtrlC:
    """``with CtrlC("fleetstream replay") as c: ...``; ``c.stop`` is a
    :class:`threading.Event` set by the first Ctrl-C; ``c.count`` counts them."""

    def __init__(self, label: str, first: str | None = None, second: str | None = None,
                 quiet: bool = False, first_raises: bool = False,
                 keep_until_exit: bool = False):
        self.label = label
        self.first = first or ("interrupted: stopping cleanly after the events read so "
                               "far (Ctrl-C again to stop at once)")
        self.second = second or "stopped at once: the outputs are incomplete"
        self.quiet = quiet
        self.first_raises = first_raises
        """The first Ctrl-C raises KeyboardInterrupt in the main thread (for commands
        without a clean-stop point); the solver pool is still spared."""
        self._raise_pending = False
        self.keep_until_exit = keep_until_exit
        """The command owns the process: after the ``with`` block the handling stays
        until the process exits (its interpreter shutdown, the solver pool's included),
        and any Ctrl-C then ends the process at once, quietly (exit 130): a Ctrl-C in
        that window would otherwise print a KeyboardInterrupt traceback."""
        self._done = False
        self.stop = threading.Event()
        self.count = 0
        self._lock = threading.Lock()
        self._active = False
        self._closing = threading.Event()
        self._watcher: threading.Thread | None = None

    def __enter__(self) -> "CtrlC":
        if threading.current_thread() is not threading.main_thread():
            return self  # signals can only be handled in the main thread: inactive
        try:  # started later, it would unblock SIGINT in the thread that starts it
            from multiprocessing import resource_tracker
            resource_tracker.ensure_running()
        except Exception:  # noqa: BLE001 - only a precaution
            pass
        self._old_handler = signal.signal(signal.SIGINT, self._handler)
        self._old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        self._watcher = threading.Thread(target=self._watch, name="fleetstream-ctrl-c",
                                         daemon=True)
        self._watcher.start()
        self._active = True
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._active:
            return
        if self.keep_until_exit:
            self._done = True  # the watcher and the handler stay until the exit
            return
        self._closing.set()
        if self._watcher is not None:
            self._watcher.join(2.0)
        # unblock first: a SIGINT that came meanwhile reaches our handler, not Python's
        signal.pthread_sigmask(signal.SIG_SETMASK, self._old_mask)
        signal.signal(signal.SIGINT, self._old_handler)
        self._active = False

    def _watch(self) -> None:
        while not self._closing.is_set():
            try:
                got = signal.sigtimedwait({signal.SIGINT}, 0.2)
            except InterruptedError:  # pragma: no cover - retried by Python itself
                continue
            if got is not None:
                self.interrupt()

    def _handler(self, signum: int, frame: object) -> None:
        if self._done:
            self.hard_stop(quiet=True)
        if self._raise_pending:  # our own interrupt_main(): the first Ctrl-C, raised here
            self._raise_pending = False
            raise KeyboardInterrupt
        self.interrupt()

    def say(self, text: str) -> None:
        if not self.quiet:
            try:
                print(f"{self.label}: {text}", file=sys.stderr, flush=True)
            except (OSError, ValueError):
                pass

    def interrupt(self) -> None:
        """What a SIGINT does (callable directly, e.g. by tests)."""
        with self._lock:
            self.count += 1
            n = self.count
        if self._done:  # the command is over, only the exit is left: no need to wait
            self.hard_stop(quiet=True)
        if n == 1:
            self.stop.set()
            if self.first_raises:
                self._raise_pending = True
                _thread.interrupt_main()
            else:
                self.say(self.first)
        else:
            self.hard_stop()

    def hard_stop(self, quiet: bool = False) -> None:
        # The process ends within moments: a thread that fails meanwhile (the solver
        # pool's manager, when its workers are killed below) must not print a traceback
        # over the one line this stop promises.
        threading.excepthook = _silent
        with _HOOKS_LOCK:
            hooks = list(_HOOKS)
        for fn in [*hooks, kill_solver_pool, _release_semaphores]:
            try:
                fn()
            except Exception:  # noqa: BLE001 - stopping at once regardless
                pass
        if not quiet:
            self.say(self.second)
        try:
            sys.stdout.flush()
        except (OSError, ValueError):
            pass
        os._exit(EXIT_INTERRUPTED)


def _release_semaphores() -> None:
    """Unlink this process's multiprocessing semaphores (the solver pool's queues), as
    a normal exit does: otherwise the resource tracker warns about them after us.  In a
    thread, bounded: stopping at once must not wait."""
    from multiprocessing import util
    t = threading.Thread(target=util._run_finalizers, args=(0,), daemon=True)
    t.start()
    t.join(0.5)


def _silent(args: object) -> None:
    """``threading.excepthook`` while stopping at once: say nothing."""


def kill_solver_pool() -> None:
    """SIGKILL this process's multiprocessing children (the solver pool), by pid."""
    import multiprocessing
    for p in multiprocessing.active_children():
        try:
            p.kill()
        except (OSError, ValueError):
            pass

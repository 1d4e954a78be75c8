"""Starting `streamlit run Home.py` (or the portal's app) on a free port against the test database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Page, expect

ROOT = Path(__file__).resolve().parents[2]
# A page's first run on a busy CI machine can take longer than Playwright's default 5 s.
expect.set_options(timeout=15_000)


@dataclass
class AppServer:
    url: str
    process: subprocess.Popen[bytes]
    password: str
    users: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    users: dict[str, str], password: str, *, script: str = "Home.py", env: dict[str, str] | None = None
) -> AppServer:
    port = _free_port()
    env = {**os.environ, "RECOUP_LOGIN_SLEEP": "0", "PYTHONPATH": str(ROOT), **(env or {})}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            script,
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--server.fileWatcherType",
            "none",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited: {process.stderr.read().decode() if process.stderr else ''}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as response:
                if response.status == 200:
                    return AppServer(url, process, password, users)
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("streamlit did not answer its health check within 30 s")


def settled(page: Page) -> None:
    """Wait until the app has finished running its script (Streamlit marks the state on stApp). A
    short pause first: right after a click the rerun may not have been asked for yet."""
    page.wait_for_timeout(150)
    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state", "notRunning", timeout=15000)

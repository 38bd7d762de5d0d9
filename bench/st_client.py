"""A minimal client of Streamlit's own websocket protocol, for load tests: what the browser's page
sends and receives, without the browser.

It opens `/_stcore/stream` with the `streamlit` subprotocol and the cookies a browser would send
(the app's login cookie, nginx's route cookie), asks for a page with a BackMsg `rerun_script`
(the page by its script hash once the app's `navigation` message named it, else by its URL path;
the query string; the hashes of the large messages it already holds, as the browser's message
cache does) and reads ForwardMsgs until `script_finished`. A view is timed from the request to the
end of the run; the headings and error elements it received are kept to check the page showed."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import ClientConnection, connect

FINISHED = ForwardMsg.ScriptFinishedStatus
DONE = (FINISHED.FINISHED_SUCCESSFULLY, FINISHED.FINISHED_WITH_COMPILE_ERROR)


@dataclass
class View:
    """What one page request brought back."""

    seconds: float
    messages: int = 0
    bytes: int = 0
    headings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # exception elements (tracebacks)


@dataclass
class StreamlitSession:
    """One browser tab's session over a websocket (open with `open`, close with `close`)."""

    ws: ClientConnection
    pages: dict[str, str] = field(default_factory=dict)  # url path -> page script hash
    cached: set[str] = field(default_factory=set)  # hashes of cacheable messages received

    @classmethod
    async def open(cls, base: str, cookies: dict[str, str]) -> StreamlitSession:
        """Connect to the app at `base` (http://host:port) sending these cookies."""
        url = base.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        ws = await connect(
            f"{url}/_stcore/stream",
            subprotocols=["streamlit"],  # type: ignore[list-item]
            additional_headers={"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())},
            max_size=None,
            open_timeout=600,
            ping_interval=None,  # a long queue behind other sessions is not a dead peer
            compression=None,
        )
        return cls(ws)

    async def close(self) -> None:
        await self.ws.close()

    def _request(self, url_path: str, query: str) -> bytes:
        msg = BackMsg()
        rerun = msg.rerun_script
        rerun.query_string = query
        page_hash = self.pages.get(url_path)
        if page_hash:
            rerun.page_script_hash = page_hash
        else:
            rerun.page_name = url_path
        rerun.cached_message_hashes.extend(sorted(self.cached))
        rerun.context_info.timezone = "Europe/London"
        rerun.context_info.locale = "en-GB"
        return msg.SerializeToString()

    async def view(self, url_path: str, query: str = "", timeout: float = 600) -> View:
        """Ask for the page at `url_path` ("" is the default page) with `query` (a=1&b=2) and
        read until its script run finished (a run the app restarts itself is followed)."""
        started = time.perf_counter()
        await self.ws.send(self._request(url_path, query))
        view = View(seconds=0.0)
        while True:
            data = await self.ws.recv(decode=False)
            if time.perf_counter() - started > timeout:
                raise TimeoutError(f"no end of the run of {url_path!r} in {timeout} s")
            view.messages += 1
            view.bytes += len(data)
            msg = ForwardMsg()
            msg.ParseFromString(data)
            kind = msg.WhichOneof("type")
            if kind == "delta":
                self._element(msg, view)
            elif kind == "navigation":
                for page in msg.navigation.app_pages:
                    self.pages[page.url_pathname] = page.page_script_hash
            elif kind == "script_finished" and msg.script_finished in DONE:
                view.seconds = time.perf_counter() - started
                if msg.script_finished == FINISHED.FINISHED_WITH_COMPILE_ERROR:
                    view.errors.append("compile error")
                return view

    def _element(self, msg: ForwardMsg, view: View) -> None:
        if msg.metadata.cacheable and msg.hash:
            self.cached.add(msg.hash)
        if msg.delta.WhichOneof("type") != "new_element":
            return
        element = msg.delta.new_element
        kind = element.WhichOneof("type")
        if kind == "heading":
            view.headings.append(element.heading.body)
        elif kind == "exception":
            view.errors.append(f"{element.exception.type}: {element.exception.message}"[:300])

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from typing import ClassVar

import pytest

from rel_telemetry import configure


def test_unknown_exporter_rejected() -> None:
    """An unknown exporter name is a ValueError naming the accepted values."""
    with pytest.raises(ValueError, match="exporter must be"):
        configure(exporter="zipkin")  # type: ignore[arg-type]


def test_configure_console_in_fresh_process() -> None:
    """configure() installs a provider: spans are then printed by the console exporter."""
    code = textwrap.dedent(
        """
        import rel_telemetry
        provider = rel_telemetry.configure(service_name="svc", exporter="console", batch=False)
        assert rel_telemetry.tracing_enabled()
        with rel_telemetry.traced("visible-span"):
            pass
        again = rel_telemetry.configure(exporter=None)
        assert again is provider
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert '"name": "visible-span"' in out.stdout
    assert '"service.name": "svc"' in out.stdout


def test_configure_without_sdk_names_the_extra() -> None:
    """Without the SDK, configure() raises ImportError naming the [sdk] extra."""
    code = textwrap.dedent(
        """
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "opentelemetry.sdk" or name.startswith("opentelemetry.sdk."):
                    raise ImportError("blocked")
        sys.meta_path.insert(0, Block())
        import rel_telemetry
        try:
            rel_telemetry.configure()
        except ImportError as e:
            print(e)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert "rel-telemetry[sdk]" in out.stdout


class _Receiver(http.server.BaseHTTPRequestHandler):
    """An OTLP/HTTP endpoint on loopback: records each POST's path, content type and body."""

    received: ClassVar[list[tuple[str, str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.received.append((self.path, self.headers.get("Content-Type", ""), body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def otlp_receiver() -> Iterator[tuple[str, list[tuple[str, str, bytes]]]]:
    """A real HTTP server standing in for an OTLP collector."""
    handler = type("Receiver", (_Receiver,), {"received": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler.received
    finally:
        server.shutdown()
        server.server_close()


EXPORTING_CHILD = textwrap.dedent(
    """
    import sys
    import rel_telemetry
    kwargs = {"endpoint": sys.argv[1]} if len(sys.argv) > 1 else {}
    rel_telemetry.configure(service_name="otlp-svc", **kwargs)
    with rel_telemetry.traced("exported-span"):
        pass
    """
)


@pytest.mark.parametrize("how", ["endpoint", "environment"])
def test_spans_reach_an_otlp_receiver(
    how: str, otlp_receiver: tuple[str, list[tuple[str, str, bytes]]]
) -> None:
    """configure() with an endpoint, or OTEL_EXPORTER_OTLP_ENDPOINT alone, exports spans over OTLP/HTTP."""
    pytest.importorskip("opentelemetry.exporter.otlp.proto.http")
    url, received = otlp_receiver
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    argv = [sys.executable, "-c", EXPORTING_CHILD]
    if how == "endpoint":
        argv.append(url)
    else:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = url
    subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=True)
    assert received, "no OTLP request arrived"
    path, content_type, body = received[0]
    assert path == "/v1/traces"
    assert content_type == "application/x-protobuf"
    assert b"exported-span" in body
    assert b"otlp-svc" in body

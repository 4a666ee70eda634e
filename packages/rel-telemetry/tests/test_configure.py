from __future__ import annotations

import subprocess
import sys
import textwrap

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

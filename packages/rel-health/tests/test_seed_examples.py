"""Seed 002's health, leak-detection and degradation examples, with only the import changed."""

from __future__ import annotations

import os
import pickle
import threading
import time
from types import SimpleNamespace

import psutil
import pytest

from rel_health import (
    DegradationRule,
    GracefulDegradation,
    HealthCheck,
    HealthChecker,
    HealthCheckFailedError,
    ResourceLeakDetector,
    raise_if_unhealthy,
)


class Agent:
    """Stand-in for the seed's application framework base class."""

    def __init__(self) -> None:
        pass

    async def cleanup(self) -> None:
        pass


class FakeDatabase:
    def __init__(self, up: bool) -> None:
        self.up = up

    async def ping(self) -> None:
        if not self.up:
            raise ConnectionError("connection refused")


class FakeApi:
    def __init__(self, status: int | None) -> None:
        self.status = status

    async def health(self):
        if self.status is None:
            raise TimeoutError("no answer")
        return SimpleNamespace(status=self.status)


database = FakeDatabase(up=True)
external_api = FakeApi(200)


async def process_data():
    return "processed"


class MonitoredAgent(Agent):
    def __init__(self):
        super().__init__()
        self.health_checker = HealthChecker()

        # Register health checks
        self.health_checker.add_check("database", self.check_database)
        self.health_checker.add_check("external_api", self.check_external_api)
        self.health_checker.add_check("memory_usage", self.check_memory)

    async def check_database(self) -> HealthCheck:
        """Check database connectivity."""
        try:
            await database.ping()
            return HealthCheck(name="database", status="healthy", message="Database connection is active")
        except Exception as e:
            return HealthCheck(name="database", status="unhealthy", message=f"Database check failed: {e}")

    async def check_external_api(self) -> HealthCheck:
        """Check external API availability."""
        try:
            response = await external_api.health()
            return HealthCheck(
                name="external_api",
                status="healthy" if response.status == 200 else "degraded",
                message=f"API status: {response.status}",
            )
        except Exception as e:
            return HealthCheck(name="external_api", status="unhealthy", message=f"API check failed: {e}")

    async def check_memory(self) -> HealthCheck:
        """Check memory usage."""
        import psutil

        memory_percent = psutil.virtual_memory().percent

        if memory_percent > 90:
            status = "unhealthy"
        elif memory_percent > 80:
            status = "degraded"
        else:
            status = "healthy"

        return HealthCheck(name="memory_usage", status=status, message=f"Memory usage: {memory_percent}%")

    async def monitored_processing(self, ctx) -> None:
        """Processing with health monitoring."""
        # Check health before processing
        health_status = await self.health_checker.check_all()

        if not health_status.is_healthy():
            raise HealthCheckFailedError(f"Health checks failed: {health_status.failed_checks}")

        # Proceed with processing
        ctx.result = await process_data()


@pytest.fixture
def services():
    database.up, external_api.status = True, 200
    yield
    database.up, external_api.status = True, 200


async def test_monitored_agent_proceeds_when_healthy(services):
    """All dependencies up: the seed's monitored processing runs."""
    agent = MonitoredAgent()
    ctx = SimpleNamespace()
    await agent.monitored_processing(ctx)
    assert ctx.result == "processed"


async def test_monitored_agent_proceeds_when_api_degraded(services):
    """A degraded API is reported but does not stop processing (the report is still healthy)."""
    external_api.status = 503
    agent = MonitoredAgent()
    report = await agent.health_checker.check_all()
    assert report.status == "degraded"
    assert report.degraded_checks == ["external_api"]
    ctx = SimpleNamespace()
    await agent.monitored_processing(ctx)
    assert ctx.result == "processed"


async def test_monitored_agent_raises_when_database_down(services):
    """The database down: the seed's example raises HealthCheckFailedError naming it."""
    database.up = False
    external_api.status = None
    agent = MonitoredAgent()
    with pytest.raises(HealthCheckFailedError, match=r"Health checks failed: \['database', 'external_api'\]"):
        await agent.monitored_processing(SimpleNamespace())


async def test_raise_if_unhealthy_helper(services):
    """raise_if_unhealthy passes a healthy report through and raises, carrying the report, otherwise."""
    agent = MonitoredAgent()
    report = await agent.health_checker.check_all()
    assert raise_if_unhealthy(report) is report
    database.up = False
    report = await agent.health_checker.check_all()
    with pytest.raises(HealthCheckFailedError) as info:
        raise_if_unhealthy(report)
    assert info.value.report is report
    assert info.value.failed_checks == ["database"]
    assert "database: Database check failed: connection refused" in str(info.value)
    clone = pickle.loads(pickle.dumps(info.value))
    assert str(clone) == str(info.value)
    assert clone.failed_checks == ["database"]


class LeakAwareAgent(Agent):
    def __init__(self):
        super().__init__()
        self.leak_detector = ResourceLeakDetector(
            check_interval=60,  # Check every 60 seconds
            memory_threshold=0.8,  # Alert if memory usage > 80%
            file_handle_threshold=1000,  # Alert if file handles > 1000
            connection_threshold=100,  # Alert if connections > 100
        )

        # Start monitoring
        self.leak_detector.start_monitoring()

    async def cleanup(self):
        """Cleanup method called on agent shutdown."""
        await self.leak_detector.stop_monitoring()
        await super().cleanup()


async def test_leak_aware_agent_starts_and_stops(no_thread_left):
    """The seed's leak-aware agent starts monitoring in __init__ and stops it, awaited, in cleanup."""
    agent = LeakAwareAgent()
    assert agent.leak_detector.is_monitoring
    await agent.cleanup()
    assert not agent.leak_detector.is_monitoring
    assert not any(t.name == "rel-health-leak-detector" for t in threading.enumerate())


def test_stop_monitoring_works_without_await(no_thread_left):
    """Called plainly from sync code, stop_monitoring has already stopped the thread."""
    detector = ResourceLeakDetector()
    detector.start_monitoring()
    detector.stop_monitoring()
    assert not detector.is_monitoring


class HighlyResilientAgent(Agent):
    def __init__(self):
        super().__init__()

        # Resource leak detection
        self.leak_detector = ResourceLeakDetector()
        self.leak_detector.start_monitoring()


def test_combined_example_detector_with_defaults(no_thread_left):
    """The combined example's ResourceLeakDetector() starts from __init__, samples at once, and stops."""
    agent = HighlyResilientAgent()
    try:
        deadline = time.monotonic() + 20
        while not agent.leak_detector.history and time.monotonic() < deadline:
            time.sleep(0.02)
        assert agent.leak_detector.history[0].pid == os.getpid()
    finally:
        agent.leak_detector.stop_monitoring()


def test_default_detector_and_degradation_construct():
    """ResourceLeakDetector() and GracefulDegradation() take no arguments (seed's combined example)."""
    detector = ResourceLeakDetector()
    assert detector.check_interval == 60
    assert detector.memory_threshold == 0.8
    assert detector.file_handle_threshold == 1000
    assert detector.connection_threshold == 100
    degradation = GracefulDegradation()
    assert degradation.level == "normal"
    assert not degradation.is_degraded


class DegradableAgent(Agent):
    def __init__(self):
        super().__init__()
        self.degradation = GracefulDegradation()

    async def check_system_health(self):
        return SimpleNamespace(
            cpu_usage=psutil.cpu_percent(None),
            memory_usage=psutil.virtual_memory().percent,
            external_services_available=True,
        )

    async def simple_processing(self, data):
        return ("simple", data)

    async def batch_processing(self, data):
        return ("batch", data)

    async def offline_processing(self, data):
        return ("offline", data)

    async def full_processing(self, data):
        return ("full", data)

    async def adaptive_processing(self, ctx) -> None:
        """Processing that adapts based on system health."""
        system_health = await self.check_system_health()

        if system_health.cpu_usage > 90:
            ctx.result = await self.simple_processing(ctx.input_data)
        elif system_health.memory_usage > 85:
            ctx.result = await self.batch_processing(ctx.input_data)
        elif not system_health.external_services_available:
            ctx.result = await self.offline_processing(ctx.input_data)
        else:
            ctx.result = await self.full_processing(ctx.input_data)


async def test_degradable_agent_runs():
    """The seed's degradable agent constructs GracefulDegradation() and processes its input."""
    agent = DegradableAgent()
    ctx = SimpleNamespace(input_data=[1, 2])
    await agent.adaptive_processing(ctx)
    assert ctx.result[1] == [1, 2]
    assert agent.degradation.level == "normal"


async def test_degradable_agent_branches_as_degradation_rules():
    """The seed's if/elif ladder maps onto rules and select(): CPU first, then memory, then external services."""
    degradation = GracefulDegradation(
        levels=("full", "offline", "batch", "simple"),
        rules=[
            DegradationRule.above("cpu_usage", 90, level="simple"),
            DegradationRule.above("memory_usage", 85, level="batch"),
            DegradationRule.equals("external_services_available", False, level="offline"),
        ],
        recover_after=1,
        system_signals=False,
    )
    agent = DegradableAgent()
    implementations = {
        "full": agent.full_processing,
        "offline": agent.offline_processing,
        "batch": agent.batch_processing,
        "simple": agent.simple_processing,
    }
    seen = []
    for cpu, memory, external in ((95, 90, False), (50, 90, False), (50, 50, False), (50, 50, True)):
        degradation.evaluate(
            {"cpu_usage": cpu, "memory_usage": memory, "external_services_available": external}
        )
        seen.append((await degradation.select(implementations)("data"))[0])
    assert seen == ["simple", "batch", "offline", "full"]

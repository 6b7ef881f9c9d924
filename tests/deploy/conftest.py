"""Prints the deployment tests' figures after the run, whether or not output is captured."""

from __future__ import annotations


def pytest_terminal_summary(terminalreporter) -> None:
    from tests.deploy import test_compose_deployment, test_swarm_deployment

    for title, module in (("compose deployment", test_compose_deployment),
                          ("swarm deployment", test_swarm_deployment)):
        lines = module.table()
        if lines:
            terminalreporter.section(title)
            for line in lines:
                terminalreporter.write_line(line)

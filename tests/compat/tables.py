"""Checks every differential suite makes of its own case table (tests/compat, compat_grpc,
compat_catwalk, compat_gppi): what a typo in the table would otherwise hide."""

from typing import Any, Iterable, Sequence


def check_case_table(cases: Sequence[Any], deployments: Sequence[Any], listed: Iterable[str],
                     where: str = "intentional.py") -> None:
    """Case ids are unique, deployment names too; every case names a deployment and every
    deployment has a case; ``listed`` (the ids ``where`` names) are all cases."""
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), "duplicate case ids: %s" % sorted(
        {i for i in ids if ids.count(i) > 1})
    names = {d.name for d in deployments}
    assert len(names) == len(deployments), "duplicate deployment names"
    unknown = sorted({c.deployment for c in cases} - names)
    assert not unknown, "cases name unknown deployments: %s" % unknown
    unused = sorted(names - {c.deployment for c in cases})
    assert not unused, "deployments without cases: %s" % unused
    stale = sorted(set(listed) - set(ids))
    assert not stale, "%s names unknown cases: %s" % (where, stale)

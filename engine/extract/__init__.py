"""Extract / Provisioning / To Generic Format (and its Bill Cycle Change twin): requests routed
to a file target written as encrypted generic files, plus a partner's CSV conversion.

:mod:`ledger` (Store side: reserve, records, seal), :mod:`daemon` (one poll, plain Python),
:mod:`output` (atomic encrypted writes), :mod:`convert` (CSV mapping), :mod:`effects` (what an
answered ADD_INSURANCE changes). Responses come back through the Load daemon and
:mod:`jobs.response_handling`.
"""

"""Stats that help an admin decide: per channel, what was published, the reactions it drew,
the best hours to post, and the reactions of recent publications over time.

:mod:`pipeline.stats.report` reads the figures from the store, :mod:`pipeline.stats.hours`
ranks the hours, :mod:`pipeline.stats.chart` draws them (matplotlib, loaded only there).
"""

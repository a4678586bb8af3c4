"""The shared kernel of khuyencong: what every service's domain and the public contracts both speak.

- :mod:`kc_kernel.money` — integer VND and how a person reads it; the programme's "approved ≤ appraised" rule;
- :mod:`kc_kernel.dated` — rules the law can change, as dated versions with their legal basis;
- :mod:`kc_kernel.units` — administrative units in time (before and after 1/7/2025), the lookup protocol;
- :mod:`kc_kernel.vocabulary` — codes for machines, Vietnamese labels for people; dates and money as read.

No I/O beyond reading its own data file, no bus, no web, no database: a domain package may import it,
and so may the contracts an integrator installs alone (``kc-contracts`` depends on ``kc-kernel`` only).
"""

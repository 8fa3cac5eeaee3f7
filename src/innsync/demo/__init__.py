"""``innsync demo``: innsync and the Channex simulator on loopback, a demo hotel, live traffic,
and a check at the end that both sides agree (see ``docs/demo.md``)."""

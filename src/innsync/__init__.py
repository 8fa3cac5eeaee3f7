"""innsync: a self-hostable channel connectivity hub for hotels."""

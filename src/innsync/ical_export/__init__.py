"""innsync's side of iCal: each iCal connection's secret ``.ics`` export."""

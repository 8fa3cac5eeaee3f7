"""A simulator of platforms that sync by iCal (Airbnb, Vrbo): feeds served, exports polled."""

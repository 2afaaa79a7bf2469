"""Data layer of the staff console.

Staff read conversations straight from Rasa's SQL tracker store (never from a
copy that could go stale) and join them to the project's own database of
bookings and escalations:

- `staff.conversations`: listing, transcripts, unanswered questions, exports
  and NLU training data from staff annotations;
- `staff.retention`: deleting old data and erasing one patient's data on
  request (also a small CLI: `python -m staff.retention --help`).

Nothing here logs or prints message texts or other patient data.
"""

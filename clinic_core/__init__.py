"""The clinic assistant's core: what every process shares, none of their glue.

The Rasa server's components (components/), the action server (actions/),
the staff console (staff/), the messaging channels (channels/) and the outbox
worker all import this package; it imports none of them, and nothing here
imports Rasa or rasa_sdk (tests/test_layout.py checks both).  Start here for a
change to what the assistant knows or stores:

- clinic.py: the clinic file (hours, contacts, facts) and its loader
- triage.py (with triage_text.py and triage_questions.py), screening.py,
  red_flag_semantic.py, sentence_encoder.py: symptom triage rules and engine,
  red-flag screening by words and by meaning
- shorthand.py: texting shorthand spelled out for the meaning classifier
- booking_fields.py, booking_time.py: reading names, phones, dates and times
- languages.py, clarify.py, follow_ups.py: other languages, "did you mean",
  the follow-up questions each FAQ topic offers
- tables.py, storage.py: every database table (one Base) and the repositories
- notifications.py: the clinic webhook/e-mail contract and the outbox worker
- settings.py: every environment variable, typed, read in one place
"""

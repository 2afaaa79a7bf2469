"""The staff console's pages, one blueprint per job: login, queues (escalations,
bookings), transcripts (conversations, annotations, unanswered questions),
exports, admin.  staff/web.py assembles them into the app."""

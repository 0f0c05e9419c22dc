"""What people did in Superset, recorded: Rempart's audit trail and Superset's action log.

Appending to the tamper-evident audit trail through `audit.append_event` (audit_trail.py),
Superset's action log written by one thread per process (action_log_writer.py), and
Superset's event logger, which writes both once per request (request_events.py).

audit_trail.py and action_log_writer.py import nothing of the plugin, so every sub-package may
import them. request_events.py, installed by superset_config.py only, may import exports (an
export's format, file name and watermark go into its request's event).
"""

"""Who may log in to Superset and how, and what a logged-in user may do.

The security manager (security_manager.py, Superset's CUSTOM_SECURITY_MANAGER), the second
factor (second_factor.py) and its pages (mfa_views.py), lockout per account
(account_lockout.py) and what every login path does with an attempt (login_attempts.py),
browser sessions known to the server (session_registry.py, session_gate.py) and the reports'
browser sessions (machine_sessions.py), the organisation's directory (directory.py: LDAP, and
the OIDC provider's groups), and permission answers kept until permissions change
(permission_memo.py).

May import audit (the audit trail), caching (the Redis layer) and exports (machine_sessions
asks screenshot_downloads whether a download was requested). Nothing else in the plugin
imports identity; superset_config.py does.
"""

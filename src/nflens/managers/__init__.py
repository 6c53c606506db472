"""The admin's firewall managers, read from their own configuration files (a snapshot's
persist/ folder): ufw's `user.rules` tuples, firewalld's zones, policies and direct rules.

Each module is pure parsing of given texts into small frozen records plus the manager's own way
of writing a rule (the command the admin would type), so that answers can speak the language
the admin thinks in. Nothing here runs the manager or reads the filesystem.
"""

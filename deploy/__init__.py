"""The production layout: nginx site, gunicorn, systemd units and a launcher for one machine."""
